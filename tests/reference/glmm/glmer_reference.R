# Reference values for tests/stats/test_glmm.py (ketapain.stats._glmm).
# Run from the repository root:  Rscript tests/reference/glmm/glmer_reference.R
# (after python tests/reference/glmm/make_datasets.py). Writes <dataset>.json here.
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "glmer_common.R"))

models <- list(
  williams3x3 = c("treatment + period + sequence"),
  ab_ba = c("treatment + period + sequence", "treatment + period"),
  unbalanced = c("treatment + period + sequence"),
  boundary = c("treatment + period + sequence")
)
for (name in names(models)) {
  df <- read_crossover(file.path(here, paste0(name, ".csv")))
  fits <- list()
  for (fixed in models[[name]]) {
    for (k in c(1L, 5L, 10L)) {
      fits[[length(fits) + 1]] <- fit_glmer(df, fixed, k, dataset = name)
    }
  }
  write_json_full(fits, file.path(here, paste0(name, ".json")))
  cat(name, ": ", length(fits), " fits\n", sep = "")
}
