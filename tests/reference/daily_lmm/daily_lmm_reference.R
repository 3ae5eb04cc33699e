# Reference fits of ketapain's daily mixed model (fit_daily_model), for its tests.
#
# Usage: Rscript daily_lmm_reference.R CASES.csv OUTDIR [DATADIR]
#   CASES.csv: case, dataset, model (standard|paper), anchor (0|1), window, ref.
#   DATADIR/<dataset>_diary.csv (patient_id, period, day, avg_pain; empty = missing) and
#   DATADIR/<dataset>_allocation.csv (patient_id, period, sequence, treatment,
#   pre_infusion_pain); DATADIR defaults to data/ next to CASES.csv. Writes OUTDIR/<case>.json.
#
# Model: y = treatment x day cell means + period (standard) or sequence (paper) with treatment
# contrasts, random intercepts for patient and patient:period, REML:
#   lmer(y ~ 0 + X + (1 | patient_id) + (1 | patient_id:period), REML = TRUE)
# with X built explicitly (cell indicators, treatment levels ref first then code-point order,
# days 0..W with the anchor (day 0 = pre_infusion_pain) or 1..W; then nuisance dummies).
# The REML criterion from lme4::mkLmerDevfun is minimised exactly (minqa::bobyqa, rhoend
# 1e-11, from several starts, then Nelder-Mead polish), then lmer(start = theta,
# optimizer = NULL) evaluates the model there. AUC contrasts: lmerTest::contest(m, L,
# ddf = "Satterthwaite", joint = FALSE) with L = trapezoid weights (1/2 at both ends) on the
# cells of a minus those of b; the omnibus: contest(m, Lmat, joint = TRUE) with the rows
# T - ref. Tested with R 4.2.2, lme4 1.1-31, lmerTest 3.1-3.
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite); library(minqa)})

args <- commandArgs(trailingOnly = TRUE)
cases <- read.csv(args[1], stringsAsFactors = FALSE)
outdir <- args[2]
datadir <- if (length(args) >= 3) args[3] else file.path(dirname(args[1]), "data")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)
code_sort <- function(x) sort(unique(as.character(x)), method = "radix")

one_case <- function(cs) {
  cc <- c(patient_id = "character", sequence = "character", treatment = "character")
  di <- read.csv(file.path(datadir, paste0(cs$dataset, "_diary.csv")), colClasses = c(patient_id = "character"))
  al <- read.csv(file.path(datadir, paste0(cs$dataset, "_allocation.csv")), colClasses = cc)
  W <- cs$window
  di <- di[di$day <= W & !is.na(di$avg_pain), ]
  d <- data.frame(patient_id = di$patient_id, period = di$period, day = di$day, y = di$avg_pain)
  if (cs$anchor == 1) {
    a0 <- al[!is.na(al$pre_infusion_pain), ]
    d <- rbind(d, data.frame(patient_id = a0$patient_id, period = a0$period, day = 0, y = a0$pre_infusion_pain))
  }
  d <- merge(d, al[, c("patient_id", "period", "sequence", "treatment")], by = c("patient_id", "period"))
  trt <- c(cs$ref, setdiff(code_sort(al$treatment), cs$ref))
  days <- if (cs$anchor == 1) 0:W else 1:W
  cells <- outer(seq_len(nrow(d)), seq_len(length(trt) * length(days)), Vectorize(function(i, j) {
    k <- (j - 1) %/% length(days) + 1; dd <- days[(j - 1) %% length(days) + 1]
    as.numeric(d$treatment[i] == trt[k] && d$day[i] == dd)
  }))
  colnames(cells) <- paste0("treatment[", rep(trt, each = length(days)), "]:day[", rep(days, length(trt)), "]")
  nuis_col <- if (cs$model == "standard") "period" else "sequence"
  lev <- code_sort(al[[nuis_col]])
  nuis <- sapply(lev[-1], function(l) as.numeric(as.character(d[[nuis_col]]) == l))
  nuis <- matrix(nuis, nrow = nrow(d))
  colnames(nuis) <- paste0(nuis_col, "[", lev[-1], "]")
  X <- cbind(cells, nuis)
  d$patient_id <- factor(d$patient_id)
  d$period <- factor(d$period)
  f <- y ~ 0 + X + (1 | patient_id) + (1 | patient_id:period)
  environment(f) <- environment()
  lf <- lFormula(f, data = d, REML = TRUE)
  dev <- do.call(mkLmerDevfun, lf)
  best <- NULL
  for (st in list(c(1, 1), c(0.3, 0.3), c(3, 0.3), c(0.3, 3))) {
    o <- bobyqa(st, dev, lower = c(0, 0), control = list(rhobeg = 0.1, rhoend = 1e-11, maxfun = 1e5))
    if (is.null(best) || o$fval < best$fval) best <- o
  }
  th <- best$par
  nm <- optim(th, function(t) dev(abs(t)), method = "Nelder-Mead",
              control = list(reltol = 1e-15, maxit = 5000))
  if (nm$value < best$fval) th <- abs(nm$par)
  for (k in 1:2) { t0 <- th; t0[k] <- 0; if (dev(t0) <= dev(th) + 1e-10) th <- t0 }
  m <- lmer(f, data = d, REML = TRUE, start = list(theta = th),
            control = lmerControl(optimizer = NULL, check.conv.singular = "ignore"))
  m <- as_lmerModLmerTest(m)
  vc <- as.data.frame(VarCorr(m))
  w <- c(0.5, rep(1, length(days) - 2), 0.5)
  lvec <- function(a, b) {
    l <- numeric(ncol(X))
    l[(match(a, trt) - 1) * length(days) + seq_along(days)] <- w
    l[(match(b, trt) - 1) * length(days) + seq_along(days)] <- -w
    l
  }
  pairs <- combn(seq_along(trt), 2)
  con <- lapply(seq_len(ncol(pairs)), function(j) {
    a <- trt[pairs[1, j]]; b <- trt[pairs[2, j]]
    r <- contest(m, lvec(a, b), ddf = "Satterthwaite", joint = FALSE)
    list(contrast = paste(a, "-", b), estimate = r$Estimate, se = r[["Std. Error"]], df = r$df,
         t = r[["t value"]], p = r[["Pr(>|t|)"]])
  })
  Lm <- do.call(rbind, lapply(trt[-1], function(t) lvec(t, trt[1])))
  om <- contest(m, Lm, ddf = "Satterthwaite", joint = TRUE)
  coefs <- summary(m, ddf = "Satterthwaite")$coefficients
  list(
    case = cs$case, n_obs = nobs(m), theta = unname(getME(m, "theta")),
    terms = sub("^X", "", names(fixef(m))), estimate = unname(fixef(m)),
    se = unname(coefs[, "Std. Error"]), df = unname(coefs[, "df"]),
    variance = list(patient = vc$vcov[vc$grp == "patient_id"],
                    patient_period = vc$vcov[vc$grp == "patient_id:period"],
                    residual = vc$vcov[vc$grp == "Residual"]),
    loglik = as.numeric(logLik(m)), reml_criterion = dev(th),
    contrasts = con,
    omnibus = list(stat = om[["F value"]], df_num = om$NumDF, df_den = om$DenDF, p = om[["Pr(>F)"]])
  )
}

for (i in seq_len(nrow(cases))) {
  cs <- cases[i, ]
  out <- one_case(cs)
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), file.path(outdir, paste0(cs$case, ".json")))
}
