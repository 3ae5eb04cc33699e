# Reference fits of crossover linear mixed models, for ketapain's tests.
#
# Usage: Rscript lmm_reference.R CASES.csv OUTDIR [DATADIR]
#   CASES.csv has columns case, dataset, model (standard|paper), carryover (0|1), log (0|1),
#   method (REML|ML), covariates (space-separated numeric columns, may be empty); each dataset is DATADIR/<dataset>.csv (default: data/ next to CASES.csv)
#   with columns subject, period, sequence, treatment, y (empty = missing), carry.
# Writes OUTDIR/<case>.json.
#
# The fit is optimised exactly: Brent's method (optimize, tol 1e-12) on the profiled deviance
# from lme4::mkLmerDevfun, then lmer(start = theta, optimizer = NULL) evaluates the model at
# that theta. lme4's own optimiser often stops ~1e-3 short in the variance components.
# Then: lmerTest (Satterthwaite; Kenward-Roger through pbkrtest), emmeans pairwise contrasts
# with adjust = "sidak", nlme::lme marginal F tests (containment df), shapiro.test on the
# conditional residuals. Tested with R 4.2, lme4 1.1-31, lmerTest 3.1-3, pbkrtest 0.5.2,
# emmeans 1.8.4, nlme 3.1.
suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(emmeans); library(nlme)
  library(jsonlite)
})
emm_options(lmerTest.limit = 1e6, pbkrtest.limit = 1e6)

args <- commandArgs(trailingOnly = TRUE)
cases <- read.csv(args[1], stringsAsFactors = FALSE, colClasses = c(covariates = "character"))
outdir <- args[2]
datadir <- if (length(args) >= 3) args[3] else file.path(dirname(args[1]), "data")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

code_sort <- function(x) sort(unique(as.character(x)), method = "radix")  # code-point order

exact_lmer <- function(formula, data, REML) {
  lf <- lFormula(formula, data = data, REML = REML)
  dev <- do.call(mkLmerDevfun, lf)
  grid <- c(0, 10^seq(-4, 3, length.out = 36))
  v <- vapply(grid, dev, numeric(1))
  k <- which.min(v)
  th <- if (k == 1) 0 else optimize(dev, c(grid[k - 1], grid[min(k + 1, length(grid))]), tol = 1e-12)$minimum
  if (dev(0) <= dev(th)) th <- 0
  m <- lmer(formula, data = data, REML = REML, start = list(theta = th),
            control = lmerControl(optimizer = NULL, check.conv.singular = "ignore"))
  list(model = as_lmerModLmerTest(m), theta = th, dev = dev)
}

ftab <- function(a, term) {
  row <- a[term, ]
  list(stat = row[["F value"]], df_num = row[["NumDF"]], df_den = row[["DenDF"]], p = row[["Pr(>F)"]])
}

one_case <- function(cs) {
  d <- read.csv(file.path(datadir, paste0(cs$dataset, ".csv")), stringsAsFactors = FALSE,
                colClasses = c(subject = "character", sequence = "character",
                               treatment = "character", carry = "character"))
  trt_levels <- code_sort(d$treatment)
  d$carry[d$carry == "none"] <- trt_levels[1]   # period 1 coded with the reference
  d <- d[!is.na(d$y), ]
  d$subject <- factor(d$subject)
  d$period <- factor(d$period, levels = code_sort(d$period))
  d$sequence <- factor(d$sequence, levels = code_sort(d$sequence))
  d$treatment <- factor(d$treatment, levels = trt_levels)
  d$carry <- factor(d$carry, levels = trt_levels)
  if (cs$log == 1) d$y <- log(d$y)
  covs <- if (is.null(cs$covariates) || is.na(cs$covariates) || cs$covariates == "") character(0) else strsplit(cs$covariates, " ")[[1]]
  rhs <- c("treatment", if (cs$model == "standard") "period", "sequence", if (cs$carryover == 1) "carry", covs)
  f <- as.formula(paste("y ~", paste(rhs, collapse = " + "), "+ (1 | subject)"))
  reml <- cs$method == "REML"
  ex <- exact_lmer(f, d, reml)
  m <- ex$model
  vc <- as.data.frame(VarCorr(m))
  out <- list(
    case = cs$case, formula = deparse(f), method = cs$method, theta = ex$theta,
    n_obs = nobs(m), n_subjects = nlevels(droplevels(d$subject)),
    terms = names(fixef(m)), estimate = unname(fixef(m)),
    se = unname(sqrt(diag(as.matrix(vcov(m))))),
    variance = list(subject = vc$vcov[1], residual = vc$vcov[2]),
    loglik = as.numeric(logLik(m)), aic = AIC(m), bic = BIC(m),
    deviance_at_1 = ex$dev(1),
    shapiro = unname(unlist(shapiro.test(residuals(m))[c("statistic", "p.value")]))
  )
  # Satterthwaite (lmerTest): per coefficient and omnibus treatment test.
  cs_sat <- summary(m, ddf = "Satterthwaite")$coefficients
  out$satterthwaite <- list(df = unname(cs_sat[, "df"]), p = unname(cs_sat[, "Pr(>|t|)"]),
                            treatment = ftab(anova(m, ddf = "Satterthwaite"), "treatment"))
  if (cs$carryover == 1) out$satterthwaite$carry <- ftab(anova(m, ddf = "Satterthwaite"), "carry")
  emm_pairs <- function(mode) {
    pr <- pairs(emmeans(m, ~ treatment, lmer.df = mode), reverse = FALSE)
    raw <- summary(pr, adjust = "none", infer = c(TRUE, TRUE))
    sid <- summary(pr, adjust = "sidak", infer = c(TRUE, TRUE))
    list(contrast = as.character(raw$contrast), estimate = raw$estimate, se = raw$SE, df = raw$df,
         p = raw$p.value, lower = raw$lower.CL, upper = raw$upper.CL,
         p_sidak = sid$p.value, lower_sidak = sid$lower.CL, upper_sidak = sid$upper.CL)
  }
  out$satterthwaite$pairs <- emm_pairs("satterthwaite")
  if (reml) {
    cs_kr <- summary(m, ddf = "Kenward-Roger")$coefficients
    a_kr <- anova(m, ddf = "Kenward-Roger")
    out$kenward_roger <- list(se = unname(cs_kr[, "Std. Error"]), df = unname(cs_kr[, "df"]),
                              p = unname(cs_kr[, "Pr(>|t|)"]), treatment = ftab(a_kr, "treatment"),
                              pairs = emm_pairs("kenward-roger"))
    if (cs$carryover == 1) out$kenward_roger$carry <- ftab(a_kr, "carry")
  }
  # Containment df: nlme marginal (type III) F tests, same fixed effects at the exact optimum.
  fl <- as.formula(paste("y ~", paste(rhs, collapse = " + ")))
  lm1 <- lme(fl, random = ~ 1 | subject, data = d, method = cs$method,
             control = lmeControl(tolerance = 1e-12, msTol = 1e-12, niterEM = 200, msMaxIter = 500,
                                  returnObject = TRUE))
  an <- anova(lm1, type = "marginal", adjustSigma = FALSE)  # plain Wald F, also for ML
  out$containment <- list(
    terms_df = unname(summary(lm1)$tTable[, "DF"]),
    treatment = list(stat = an["treatment", "F-value"], df_num = an["treatment", "numDF"],
                     df_den = an["treatment", "denDF"], p = an["treatment", "p-value"]),
    nlme_loglik = as.numeric(logLik(lm1))
  )
  # Sequence x treatment interaction (aliased columns dropped by lmer), Kenward-Roger and Satterthwaite.
  rhs_i <- c(rhs, "sequence:treatment")
  fi <- as.formula(paste("y ~", paste(rhs_i, collapse = " + "), "+ (1 | subject)"))
  mi <- suppressMessages(exact_lmer(fi, d, reml)$model)
  out$sequence_by_treatment <- list(satterthwaite = ftab(anova(mi, ddf = "Satterthwaite"), "treatment:sequence"))
  if (reml) out$sequence_by_treatment$kenward_roger <- ftab(anova(mi, ddf = "Kenward-Roger"), "treatment:sequence")
  out
}

for (i in seq_len(nrow(cases))) {
  res <- one_case(cases[i, ])
  writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
             file.path(outdir, paste0(cases$case[i], ".json")))
}
