# Shared by glmer_reference.R (checked-in outputs) and glmer_live.R (live cross-check).
# Fits glmer(y ~ <fixed> + (1 | subject), family = binomial, nAGQ = k) with tight
# optimiser control and returns everything the Python tests compare, as a list.
suppressPackageStartupMessages(library(lme4))
library(jsonlite)

read_crossover <- function(path) {
  df <- read.csv(path, colClasses = c(subject = "character", period = "character",
                                      sequence = "character", treatment = "character"))
  # Treatment contrasts, reference = first level in C-locale sorted order (as Python sorted()).
  for (v in c("subject", "period", "sequence", "treatment")) {
    df[[v]] <- factor(df[[v]], levels = sort(unique(df[[v]]), method = "radix"))
  }
  df
}

tight_control <- glmerControl(
  optimizer = "bobyqa",
  optCtrl = list(rhobeg = 2e-4, rhoend = 1e-12, maxfun = 1e6),
  tolPwrss = 1e-12
)

# NA (JSON null) where lme4's PIRLS fails, e.g. at extreme parameter values.
safe_dev <- function(dd, par) tryCatch(dd(par), error = function(e) NA_real_)

fit_glmer <- function(df, fixed, nagq, dataset = NA_character_) {
  form <- as.formula(paste("y ~", fixed, "+ (1 | subject)"))
  msgs <- character(0)
  warns <- character(0)
  m <- withCallingHandlers(
    glmer(form, data = df, family = binomial, nAGQ = nagq, control = tight_control),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") }
  )
  theta <- unname(getME(m, "theta"))
  beta <- unname(fixef(m))
  V <- as.matrix(vcov(m))
  dd <- update(m, devFunOnly = TRUE)
  par_fit <- c(theta, beta)
  par_fixed <- c(0.8, round(beta, 1))  # a fixed vector away from the optimum
  # Omnibus Wald chi-square test of all treatment terms, and one treatment contrast:
  # last treatment level minus the first non-reference level (B alone if only A/B).
  trt <- grep("^treatment", names(fixef(m)))
  L <- diag(length(beta))[trt, , drop = FALSE]
  Lb <- L %*% beta
  wald_stat <- as.numeric(t(Lb) %*% solve(L %*% V %*% t(L), Lb))
  cvec <- numeric(length(beta))
  cvec[trt[length(trt)]] <- 1
  if (length(trt) > 1) cvec[trt[1]] <- -1
  c_est <- sum(cvec * beta)
  c_se <- sqrt(as.numeric(t(cvec) %*% V %*% cvec))
  list(
    dataset = dataset,
    call = sprintf("glmer(%s, data = %s, family = binomial, nAGQ = %d, control = glmerControl(optimizer = \"bobyqa\", optCtrl = list(rhobeg = 2e-4, rhoend = 1e-12, maxfun = 1e6), tolPwrss = 1e-12))",
                   deparse(form), if (is.na(dataset)) "df" else dataset, nagq),
    fixed = fixed,
    nagq = nagq,
    terms = colnames(getME(m, "X")),
    fixef = beta,
    se = unname(sqrt(diag(V))),
    vcov = unname(V),
    theta = theta,
    loglik = as.numeric(logLik(m)),
    aic = AIC(m),
    bic = BIC(m),
    nobs = nobs(m),
    ngrps = unname(ngrps(m)),
    singular = isSingular(m),
    par_fit = par_fit,
    dev_at_fit = safe_dev(dd, par_fit),
    par_fixed = par_fixed,
    dev_at_fixed = safe_dev(dd, par_fixed),
    wald_treatment = list(statistic = wald_stat, df = length(trt),
                          p_value = pchisq(wald_stat, length(trt), lower.tail = FALSE)),
    contrast = list(vector = cvec, estimate = c_est, se = c_se, statistic = c_est / c_se,
                    p_value = 2 * pnorm(-abs(c_est / c_se)),
                    ci_low = c_est - qnorm(0.975) * c_se, ci_high = c_est + qnorm(0.975) * c_se),
    warnings = warns,
    messages = msgs,
    lme4_version = as.character(packageVersion("lme4")),
    r_version = R.version.string
  )
}

write_json_full <- function(x, path) {
  writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"), path)
}
