# Fit time of lme4::lmer and nlme::lme on the trials of bench_batch.py, measured inside R.
# Usage: Rscript benchmarks/bench_batch_r.R TRIALS.csv OUT.json
# TRIALS.csv: trial, subject, period, sequence, treatment, y (an empty y is a missing period).
# Factor levels are dropped per trial (a trial may lack a sequence); the output keeps the
# intercept, treatmentB, treatmentC and the two variance components of every fit.
# Model: y ~ treatment + period + sequence + (1 | subject), REML, default optimiser settings.
suppressPackageStartupMessages({library(lme4); library(nlme); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("integer", "character", "character", "character", "character", "numeric"))
for (v in c("subject", "period", "sequence", "treatment")) d[[v]] <- factor(d[[v]])
parts <- lapply(split(d, d$trial), droplevels)
n <- length(parts)
f <- y ~ treatment + period + sequence + (1 | subject)
keep <- c("(Intercept)", "treatmentB", "treatmentC")
lmer_est <- vector("list", n)
t_lmer <- system.time(for (k in seq_len(n)) {
  m <- lmer(f, data = parts[[k]], REML = TRUE)
  vc <- as.data.frame(VarCorr(m))
  lmer_est[[k]] <- c(fixef(m)[keep], sigma2_subject = vc$vcov[1], sigma2_residual = vc$vcov[2])
})[["elapsed"]]
# Not timed: the same fits with tight optimiser tolerances, the reference for agreement (at its
# defaults lmer stops ~1e-5 relative from the REML optimum in the variance components).
tight <- lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-16, xtol_rel = 1e-14, ftol_rel = 1e-16, maxeval = 100000))
lmer_tight_est <- vector("list", n)
for (k in seq_len(n)) {
  m <- lmer(f, data = parts[[k]], REML = TRUE, control = tight)
  vc <- as.data.frame(VarCorr(m))
  lmer_tight_est[[k]] <- c(fixef(m)[keep], sigma2_subject = vc$vcov[1], sigma2_residual = vc$vcov[2])
}
lme_est <- vector("list", n)
t_lme <- system.time(for (k in seq_len(n)) {
  m <- lme(y ~ treatment + period + sequence, random = ~ 1 | subject, data = parts[[k]], method = "REML",
           na.action = na.omit)
  vc <- as.numeric(VarCorr(m)[, "Variance"])
  lme_est[[k]] <- c(fixef(m)[keep], sigma2_subject = vc[1], sigma2_residual = vc[2])
})[["elapsed"]]
out <- list(
  trials = as.integer(names(parts)), seconds_lmer = t_lmer, seconds_lme = t_lme,
  names = names(lmer_est[[1]]), lmer = do.call(rbind, lmer_est), lme = do.call(rbind, lme_est),
  lmer_tight = do.call(rbind, lmer_tight_est),
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  nlme = as.character(packageVersion("nlme")))
)
write_json(out, args[2], digits = NA, auto_unbox = TRUE, matrix = "rowmajor")
