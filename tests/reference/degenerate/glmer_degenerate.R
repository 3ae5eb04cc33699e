# Reference values for tests/stats/test_degenerate.py and tests/analysis/test_model_checks.py.
# Run from the repository root:  Rscript tests/reference/degenerate/glmer_degenerate.R
# (after PYTHONPATH=src python tests/reference/degenerate/make_datasets.py). Writes
# <dataset>.json here: for each model
#   glmer(y ~ <fixed> + (1 | subject), family = binomial, nAGQ = 5, control = tight_control)
# with the reference treatment P (as the analysis plan's reference arm) and the other factors
# treatment-coded on their first level in C-locale order (glmer_common.R).
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "..", "glmm", "glmer_common.R"))

models <- list(
  demo_d7_immpact30 = c("treatment + sequence", "treatment + period + sequence"),
  demo_d7_immpact50 = c("treatment"),
  demo_d7_improved = c("treatment + sequence"),
  demo_d35_immpact50 = c("treatment + sequence")
)
for (name in names(models)) {
  df <- read_crossover(file.path(here, paste0(name, ".csv")))
  df$treatment <- relevel(df$treatment, ref = "P")
  fits <- lapply(models[[name]], function(fixed) fit_glmer(df, fixed, 5L, dataset = name))
  write_json_full(fits, file.path(here, paste0(name, ".json")))
  cat(name, ": ", length(fits), " fits\n", sep = "")
}
