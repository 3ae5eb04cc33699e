# Fit time of lme4::lmer on simulated trials of bench_power.py, measured inside R.
# Usage: Rscript benchmarks/bench_power_r.R TRIALS.csv OUT.json
# TRIALS.csv: trial, subject, period, sequence, treatment, auc (complete data).
# Model: auc ~ treatment + period + sequence + (1 | subject), REML, default optimiser settings
# (the model simulate_power fits, without the Kenward-Roger df lmerTest would add).
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], colClasses = c("integer", "character", "character", "character", "character", "numeric"))
for (v in c("subject", "period", "sequence", "treatment")) d[[v]] <- factor(d[[v]])
parts <- split(d, d$trial)
f <- auc ~ treatment + period + sequence + (1 | subject)
t <- system.time(for (k in seq_along(parts)) lmer(f, data = parts[[k]], REML = TRUE))[["elapsed"]]
write_json(list(fits = length(parts), seconds = t, lme4 = as.character(packageVersion("lme4")),
                R = R.version.string), args[2], auto_unbox = TRUE, digits = NA)
