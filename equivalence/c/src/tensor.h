/* Tensors and the .npy (format version 1 to 3) reader and the version 1 writer. */
#ifndef BOOLNET_TENSOR_H
#define BOOLNET_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define MAX_RANK 8
/* The largest array this program reads or allocates (the model file's 4 GiB bound, MODEL-4). */
#define MAX_TENSOR_BYTES ((size_t)1 << 32)

typedef enum { DT_U8, DT_I16, DT_I64, DT_F32, DT_F64 } dtype_t;

typedef struct {
    dtype_t dtype;
    int ndim;
    size_t shape[MAX_RANK];
    size_t count; /* number of elements */
    void *data;
    const char *name; /* for messages */
    int bits_ok;      /* known to hold only 0 and 1: checked, or written by an op */
} tensor;

const char *dtype_name(dtype_t t);
size_t dtype_size(dtype_t t);

/* A new zeroed tensor; fail() when its size overflows or exceeds MAX_TENSOR_BYTES. */
tensor *tensor_new(dtype_t dt, int ndim, const size_t *shape, const char *name);
/* A new uint8 tensor that the op creating it fills with bits only. */
tensor *tensor_new_bits(int ndim, const size_t *shape, const char *name);
void tensor_free(tensor *t);

/* Read an .npy file: bounds-checked header (magic, version, dict, descr, fortran_order,
 * shape) and data size == file size - header size. */
tensor *npy_read(const char *path, const char *name);
/* Write t as an .npy format 1.0 file (little-endian, C order). */
void npy_write(const char *path, const tensor *t);

/* Checks that fail() with the tensor's name and the violated bound. */
void check_dtype(const tensor *t, dtype_t dt);
void check_rank(const tensor *t, int ndim);
void check_bits(const tensor *t); /* uint8 holding only 0 and 1 (ENC-5) */
void check_finite(const tensor *t); /* float32/64 without NaN or infinity */
void shape_str(const tensor *t, char *buf, size_t len);

#endif
