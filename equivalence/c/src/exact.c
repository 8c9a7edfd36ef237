/* Exact arithmetic (EXACT-1, EXACT-2) for the weight scale (WB-2) and the fold (FOLD). */
#include "ops.h"
#include "util.h"

tensor *weight_scale(const tensor *w)
{
    (void)w;
    not_implemented("weight_scale");
}

void fold_bn_sign(const bn_t *bn, long long n, const tensor *alpha, const tensor *bias,
                  const tensor *offsets, tensor **polarity, tensor **threshold)
{
    (void)bn; (void)n; (void)alpha; (void)bias; (void)offsets; (void)polarity; (void)threshold;
    not_implemented("fold_bn_sign");
}
