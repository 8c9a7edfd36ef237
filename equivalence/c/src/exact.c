/* Exact arithmetic (EXACT-1, EXACT-2) for the weight scale (WB-2) and the fold (FOLD).
 *
 * Every finite binary32/binary64 number is a dyadic rational m * 2**e. The fold's decision
 * [L >= K * sqrt(v)] is taken on squares of such numbers, so a small fixed-capacity unsigned
 * big integer and a signed dyadic type on top of it are all that is needed. */
#include <math.h>
#include <string.h>

#include "ops.h"
#include "util.h"

#define LIMBS 192 /* 6144 bits: far above the ~3000 bits the widest fold product needs */

typedef struct {
    int n; /* used limbs, no leading zero limb */
    uint32_t d[LIMBS];
} big;

static void big_norm(big *a)
{
    while (a->n > 0 && a->d[a->n - 1] == 0)
        a->n--;
}

static void big_u64(big *a, uint64_t v)
{
    a->n = 0;
    while (v) {
        a->d[a->n++] = (uint32_t)v;
        v >>= 32;
    }
}

static int big_bitlen(const big *a)
{
    if (a->n == 0)
        return 0;
    uint32_t top = a->d[a->n - 1];
    int b = 0;
    while (top) {
        b++;
        top >>= 1;
    }
    return (a->n - 1) * 32 + b;
}

static void big_shl(big *a, int bits)
{
    if (a->n == 0 || bits == 0)
        return;
    if (bits < 0 || big_bitlen(a) + bits > LIMBS * 32)
        fail("exact arithmetic: operand exceeds %d bits", LIMBS * 32);
    int limbs = bits / 32, sh = bits % 32;
    int n = a->n + limbs + 1;
    for (int i = n - 1; i >= 0; i--) {
        int src = i - limbs;
        uint64_t hi = (src >= 0 && src < a->n) ? a->d[src] : 0;
        uint64_t lo = (src - 1 >= 0 && src - 1 < a->n) ? a->d[src - 1] : 0;
        a->d[i] = sh ? (uint32_t)((hi << sh) | (lo >> (32 - sh))) : (uint32_t)hi;
    }
    a->n = n;
    big_norm(a);
}

static int big_bit(const big *a, int i)
{
    if (i < 0 || i / 32 >= a->n)
        return 0;
    return (int)((a->d[i / 32] >> (i % 32)) & 1);
}

static int big_cmp(const big *a, const big *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i])
            return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

static void big_add(big *r, const big *a, const big *b)
{
    int n = a->n > b->n ? a->n : b->n;
    if (n + 1 > LIMBS)
        fail("exact arithmetic: operand exceeds %d bits", LIMBS * 32);
    uint64_t carry = 0;
    big t;
    for (int i = 0; i < n; i++) {
        uint64_t s = carry + (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0);
        t.d[i] = (uint32_t)s;
        carry = s >> 32;
    }
    t.d[n] = (uint32_t)carry;
    t.n = n + 1;
    big_norm(&t);
    *r = t;
}

static void big_sub(big *r, const big *a, const big *b) /* a >= b */
{
    int64_t borrow = 0;
    big t;
    for (int i = 0; i < a->n; i++) {
        int64_t s = (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
        borrow = s < 0;
        t.d[i] = (uint32_t)(s + (borrow ? ((int64_t)1 << 32) : 0));
    }
    t.n = a->n;
    big_norm(&t);
    *r = t;
}

static void big_mul(big *r, const big *a, const big *b)
{
    if (a->n + b->n > LIMBS)
        fail("exact arithmetic: product exceeds %d bits", LIMBS * 32);
    big t;
    memset(t.d, 0, sizeof(uint32_t) * (size_t)(a->n + b->n + 1));
    for (int i = 0; i < a->n; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < b->n; j++) {
            uint64_t s = (uint64_t)a->d[i] * b->d[j] + t.d[i + j] + carry;
            t.d[i + j] = (uint32_t)s;
            carry = s >> 32;
        }
        t.d[i + b->n] = (uint32_t)carry;
    }
    t.n = a->n + b->n;
    big_norm(&t);
    *r = t;
}

static uint32_t big_div_u32(big *q, const big *a, uint32_t div)
{
    uint64_t rem = 0;
    big t;
    t.n = a->n;
    for (int i = a->n - 1; i >= 0; i--) {
        uint64_t cur = (rem << 32) | a->d[i];
        t.d[i] = (uint32_t)(cur / div);
        rem = cur % div;
    }
    big_norm(&t);
    *q = t;
    return (uint32_t)rem;
}

/* ---- signed dyadic rationals: sign * mag * 2**exp ---- */

typedef struct {
    int sign; /* -1, 0, +1 */
    int exp;
    big mag;
} dyadic;

static void dy_from_double(dyadic *r, double x)
{
    /* exact for every finite binary64 number, hence every float32 (EXACT-1) */
    r->exp = 0;
    if (x == 0) {
        r->sign = 0;
        r->mag.n = 0;
        return;
    }
    r->sign = x < 0 ? -1 : 1;
    int e;
    double f = frexp(fabs(x), &e);        /* |x| = f * 2**e, 0.5 <= f < 1 */
    uint64_t m = (uint64_t)ldexp(f, 64 - 11); /* 53 bits, exact */
    big_u64(&r->mag, m);
    r->exp = e - 53;
}

static void dy_align(big *a, int ea, big *b, int eb, int *e)
{
    if (ea > eb) {
        big_shl(a, ea - eb);
        *e = eb;
    } else {
        big_shl(b, eb - ea);
        *e = ea;
    }
}

static void dy_add(dyadic *r, const dyadic *x, const dyadic *y)
{
    if (x->sign == 0) {
        *r = *y;
        return;
    }
    if (y->sign == 0) {
        *r = *x;
        return;
    }
    big a = x->mag, b = y->mag;
    int e;
    dy_align(&a, x->exp, &b, y->exp, &e);
    dyadic t;
    t.exp = e;
    if (x->sign == y->sign) {
        big_add(&t.mag, &a, &b);
        t.sign = x->sign;
    } else {
        int c = big_cmp(&a, &b);
        if (c == 0) {
            t.sign = 0;
            t.mag.n = 0;
            t.exp = 0;
        } else if (c > 0) {
            big_sub(&t.mag, &a, &b);
            t.sign = x->sign;
        } else {
            big_sub(&t.mag, &b, &a);
            t.sign = y->sign;
        }
    }
    *r = t;
}

static void dy_neg(dyadic *r)
{
    r->sign = -r->sign;
}

static void dy_mul(dyadic *r, const dyadic *x, const dyadic *y)
{
    dyadic t;
    t.sign = x->sign * y->sign;
    if (t.sign == 0) {
        t.mag.n = 0;
        t.exp = 0;
    } else {
        big_mul(&t.mag, &x->mag, &y->mag);
        t.exp = x->exp + y->exp;
    }
    *r = t;
}

static int dy_cmp_mag(const dyadic *x, const dyadic *y) /* |x| vs |y| */
{
    if (x->sign == 0 || y->sign == 0)
        return (x->sign != 0) - (y->sign != 0);
    big a = x->mag, b = y->mag;
    int e;
    dy_align(&a, x->exp, &b, y->exp, &e);
    return big_cmp(&a, &b);
}

/* EXACT-2: lhs >= k * sqrt(v) for v > 0, decided on signs, then squares. */
static int ge_times_sqrt(const dyadic *lhs, const dyadic *k, const dyadic *v)
{
    if (k->sign <= 0) {
        if (lhs->sign >= 0)
            return 1;
        dyadic l2, k2, k2v;
        dy_mul(&l2, lhs, lhs);
        dy_mul(&k2, k, k);
        dy_mul(&k2v, &k2, v);
        return dy_cmp_mag(&l2, &k2v) <= 0; /* |L| <= |K| sqrt(v) */
    }
    if (lhs->sign <= 0)
        return 0;
    dyadic l2, k2, k2v;
    dy_mul(&l2, lhs, lhs);
    dy_mul(&k2, k, k);
    dy_mul(&k2v, &k2, v);
    return dy_cmp_mag(&l2, &k2v) >= 0;
}

/* ---------------------------------------------------------------- WB-2 */

/* The float32 nearest (ties to even) to A * 2**exp / div, A > 0. */
static float round_quotient_to_float32(const big *A, int exp, uint32_t div)
{
    int lc = 0;
    for (uint32_t t = div; t; t >>= 1)
        lc++;
    int sh = lc + 26 - big_bitlen(A);
    if (sh < 0)
        sh = 0;
    big num = *A, q;
    big_shl(&num, sh);
    uint32_t rem = big_div_u32(&q, &num, div);
    int sticky = rem != 0;
    int lq = big_bitlen(&q);  /* >= 26 */
    int drop = lq - 24;       /* bits below a 24-bit significand */
    int e = exp - sh + drop;  /* exponent of the significand's last bit */
    if (e < -149) {           /* subnormal: fewer significand bits */
        drop += -149 - e;
        e = -149;
    }
    uint64_t m = 0;
    for (int i = lq - 1; i >= drop; i--)
        m = (m << 1) | (uint64_t)big_bit(&q, i);
    int half = big_bit(&q, drop - 1);
    for (int i = 0; i < drop - 1 && !sticky; i++)
        sticky = big_bit(&q, i);
    if (half && (sticky || (m & 1)))
        m++;
    return (float)ldexp((double)m, e); /* exact: m < 2**25, e in float32 range */
}

tensor *weight_scale(const tensor *w)
{
    check_dtype(w, DT_F32);
    check_rank(w, 4);
    check_finite(w);
    size_t Cout = w->shape[0];
    size_t per = Cout ? w->count / Cout : 0;
    if (Cout == 0 || per == 0)
        fail("%s: empty weight (WB-3)", w->name);
    if (per > UINT32_MAX)
        fail("%s: too many entries per output channel", w->name);
    size_t shape[1] = {Cout};
    tensor *out = tensor_new(DT_F32, 1, shape, "weight_scale");
    const float *src = w->data;
    for (size_t o = 0; o < Cout; o++) {
        big acc; /* exact sum of |W[o]| in units of 2**-149 */
        acc.n = 0;
        for (size_t i = 0; i < per; i++) {
            float v = fabsf(src[o * per + i]);
            if (v == 0)
                continue;
            int e;
            float f = frexpf(v, &e); /* v = f * 2**e */
            uint64_t m = (uint64_t)ldexp((double)f, 24);
            int shift = e - 24 + 149; /* negative only for subnormals, whose m ends in zeros */
            if (shift < 0) {
                m >>= -shift;
                shift = 0;
            }
            big t;
            big_u64(&t, m);
            big_shl(&t, shift);
            big_add(&acc, &acc, &t);
        }
        if (acc.n == 0)
            fail("%s: the scale of output channel %zu is 0 (WB-3)", w->name, o);
        float a = round_quotient_to_float32(&acc, -149, (uint32_t)per);
        if (a == 0)
            fail("%s: the scale of output channel %zu rounds to 0 (WB-3)", w->name, o);
        ((float *)out->data)[o] = a;
    }
    return out;
}

/* ---------------------------------------------------------------- FOLD */

/* FOLD-2: [gamma * (alpha * s + b - mean) >= -(beta + o) * sqrt(var + eps)] */
static int fold_bit(const dyadic *gamma, const dyadic *alpha, const dyadic *b_minus_mean,
                    const dyadic *k, const dyadic *v, long long s)
{
    dyadic ds, as, inner, L;
    dy_from_double(&ds, (double)s);
    dy_mul(&as, alpha, &ds);
    dy_add(&inner, &as, b_minus_mean);
    dy_mul(&L, gamma, &inner);
    return ge_times_sqrt(&L, k, v);
}

static void check_vec(const tensor *t, size_t len, const char *label)
{
    check_dtype(t, DT_F32);
    check_rank(t, 1);
    if (t->shape[0] != len)
        fail("%s: length %zu, expected %zu (%s)", t->name, t->shape[0], len, label);
    check_finite(t);
}

void fold_bn_sign(const bn_t *bn, long long n, const tensor *alpha, const tensor *bias,
                  const tensor *offsets, tensor **polarity, tensor **threshold)
{
    if (n < 1 || n > N_MAX)
        fail("n = %lld outside [1, %d] (ACC-3)", n, N_MAX);
    size_t C = bn->channels;
    check_vec(alpha, C, "FOLD-1");
    check_vec(bias, C, "FOLD-1");
    check_dtype(offsets, DT_F32);
    check_rank(offsets, 1);
    if (offsets->shape[0] < 1)
        fail("%s: empty offsets (FOLD-1)", offsets->name);
    check_finite(offsets);
    const float *al = alpha->data, *bi = bias->data, *of = offsets->data;
    for (size_t c = 0; c < C; c++)
        if (!(al[c] > 0))
            fail("%s: alpha[%zu] = %g <= 0 (FOLD-1)", alpha->name, c, (double)al[c]);
    size_t S = offsets->shape[0];
    size_t shape[2] = {S, C};
    *polarity = tensor_new(DT_U8, 2, shape, "polarity");
    *threshold = tensor_new(DT_I16, 2, shape, "threshold");
    uint8_t *pol = (*polarity)->data;
    int16_t *thr = (*threshold)->data;
    const float *g = bn->gamma->data, *be = bn->beta->data, *mu = bn->mean->data,
                *var = bn->var->data;
    for (size_t c = 0; c < C; c++) {
        dyadic gamma, a, b, mean, bmm, v, eps, beta;
        dy_from_double(&gamma, g[c]);
        dy_from_double(&a, al[c]);
        dy_from_double(&b, bi[c]);
        dy_from_double(&mean, mu[c]);
        dy_neg(&mean);
        dy_add(&bmm, &b, &mean);
        dy_from_double(&v, var[c]);
        dy_from_double(&eps, bn->eps); /* eps is binary64 (BN-1) */
        dy_add(&v, &v, &eps);
        if (v.sign <= 0)
            fail("%s: var + eps <= 0 at channel %zu (BN-2)", bn->var->name, c);
        dy_from_double(&beta, be[c]);
        for (size_t j = 0; j < S; j++) {
            dyadic o, k;
            dy_from_double(&o, of[j]);
            dy_add(&k, &beta, &o);
            dy_neg(&k); /* K = -(beta + o_j) */
            uint8_t p = 1;
            long long t;
            if (gamma.sign == 0) {
                /* FOLD-5: constant [beta + o_j >= 0] */
                t = fold_bit(&gamma, &a, &bmm, &k, &v, 0) ? -n : n + 2;
            } else if (gamma.sign > 0) {
                /* FOLD-3: increasing; the least s in D_n with bit 1, else constant 0 */
                long long lo = 0, hi = n + 1; /* index k: s = -n + 2k; answer in [lo, hi] */
                while (lo < hi) {
                    long long mid = (lo + hi) / 2;
                    if (fold_bit(&gamma, &a, &bmm, &k, &v, -n + 2 * mid))
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                t = lo == n + 1 ? n + 2 : -n + 2 * lo;
            } else {
                /* FOLD-4: decreasing; the greatest s in D_n with bit 1 */
                long long lo = -1, hi = n; /* answer in [lo, hi], -1 meaning none */
                while (lo < hi) {
                    long long mid = (lo + hi + 1) / 2;
                    if (fold_bit(&gamma, &a, &bmm, &k, &v, -n + 2 * mid))
                        lo = mid;
                    else
                        hi = mid - 1;
                }
                if (lo < 0) {
                    t = n + 2; /* constant 0 */
                } else if (lo == n) {
                    t = -n; /* constant 1 (FOLD-7, THR-2) */
                } else {
                    p = 0;
                    t = -n + 2 * lo;
                }
            }
            pol[j * C + c] = p;
            thr[j * C + c] = (int16_t)t;
        }
    }
}
