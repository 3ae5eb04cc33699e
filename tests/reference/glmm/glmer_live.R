# Live cross-check used by tests/stats/test_glmm.py (marked `r`).
# Usage: Rscript glmer_live.R <data.csv> <nAGQ> "<fixed effects>" <out.json>
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
source(file.path(here, "glmer_common.R"))
a <- commandArgs(trailingOnly = TRUE)
df <- read_crossover(a[1])
res <- tryCatch(fit_glmer(df, a[3], as.integer(a[2])),
                error = function(e) list(error = conditionMessage(e)))
write_json_full(res, a[4])
