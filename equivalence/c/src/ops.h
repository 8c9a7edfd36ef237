/* The operations of the specification on tensors (chapters 4 to 16). */
#ifndef BOOLNET_OPS_H
#define BOOLNET_OPS_H

#include "tensor.h"

#define N_MAX 32765 /* ACC-3 */

typedef enum { PAD_REPLICATE, PAD_ONE, PAD_NONE } padmode_t;
padmode_t parse_pad_mode(const char *s, long long padding);

typedef struct {
    long long stride, padding, dilation, groups;
    padmode_t pad_mode;
} conv_params;

typedef struct {
    const tensor *polarity;  /* uint8 [S, C] */
    const tensor *threshold; /* int16 [S, C] */
    long long n;
} units_t;

typedef struct {
    const tensor *gamma, *beta, *mean, *var; /* float32 [C] */
    double eps;
    size_t channels;
} bn_t;

/* Validation of composite arguments (THR-4, BN-2). */
void check_units(const units_t *u, size_t channels);
void check_bn(const bn_t *bn);

tensor *pad_bits(const tensor *x, long long padding, padmode_t mode);        /* PAD */
tensor *binary_conv2d(const tensor *x, const tensor *w, const conv_params *p); /* CONV-1 */
tensor *select_slices(const tensor *x, long long groups);                     /* CONV-4 */
tensor *flatten_slices(const tensor *x);                                      /* CHAN-1 */
void split_channels(const tensor *x, tensor **first, tensor **second);        /* CHAN-2 */
tensor *shuffle_channels(const tensor *z1, const tensor *z2);                 /* CHAN-3 */
tensor *logic_op(const tensor *x, const tensor *r, int is_or);                /* LOGIC */
tensor *binary_maxpool(const tensor *x, long long k, long long stride);       /* POOL-1 */
tensor *threshold_slices(const tensor *s, const units_t *u);                  /* THR-5 */
tensor *threshold_maxpool(const tensor *s, const units_t *u, long long k, long long stride);
tensor *slice_quantize(const tensor *z, const tensor *offsets);               /* SLICE-2 */
tensor *weight_bits(const tensor *w);                                         /* WB-1 */
tensor *weight_scale(const tensor *w);                                        /* WB-2 */

/* Real-valued boundary, binary64 (BN-3, STEM, HEAD). x is float64 [N, C, ...]. */
tensor *batchnorm(const tensor *x, const bn_t *bn);
tensor *real_conv2d(const tensor *x, const tensor *w, long long stride, long long padding,
                    long long groups);
tensor *real_maxpool(const tensor *x, long long k, long long stride, long long padding);
tensor *add_real(const tensor *a, const tensor *b);
tensor *to_f64(const tensor *x);
tensor *basenet_stem(const tensor *features, const bn_t *bn, const tensor *offsets);
tensor *prelu(const tensor *z, const tensor *slope);
tensor *classifier(const tensor *z, const tensor *w, const tensor *b);
tensor *last_block_real(const tensor *s2, const tensor *alpha2, const bn_t *bn2,
                        const tensor *x, const bn_t *bn3);

/* FOLD (exact.c): canonical units [S, C] of sign(BN(alpha * s + b) + o_j). */
void fold_bn_sign(const bn_t *bn, long long n, const tensor *alpha, const tensor *bias,
                  const tensor *offsets, tensor **polarity, tensor **threshold);

#endif
