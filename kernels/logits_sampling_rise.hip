// logits_sampling_rise.hip -- rocsample kernel module "logits_sampling_rise" (ABI RS_ABI_VERSION).
//
// Entry points (extern "C"):
//
//   logits_sampling_rise_kernel, logits_sampling_rise_kernel_f16, logits_sampling_rise_kernel_bf16
//     env override: LOGITS_SAMPLING_RISE_HSACO
//     The arguments, launch rules, workspace and tokens of logits_sampling.hip's
//     logits_sampling_kernel{,_f16,_bf16} (LOGITS_SAMPLING_HSACO); see that file's ABI.
//     They differ in one thing: a top-k row raises its candidate bound while its blocks
//     scan (rs_scan_cand's rise; the bound stays at or below the row's k-th largest), so a
//     row of k x ceil(vocab / 4096) > 3072 candidates (RS_RISE_CAND, what its last block
//     selects from in shared memory) keeps fewer of them, as does a row whose blocks span
//     at least RS_RISE_SPAN4 sub-chunks (logit rows are never held packed, so the float
//     threshold holds for every element type). rocsample launches these entries for such
//     rows only, 2-byte rows for their candidates only (rocsample.ops.sampling._rise_suffix);
//     logits_sampling.hip's entries never run that scan. They live in a module of their own so
//     that the base module's code and compile time stay as they are; optional: without this
//     module every row takes the base entries.
// No dynamic shared memory; reads and writes what the base entries do; every loop is bounded
// by vocab or part_g.
#define RS_RISE_MODULE 1
#include "logits_sampling.hip"
