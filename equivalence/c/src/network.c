/* The model graph (graph.json + arrays/NAME.npy) and the forward pass (NET, OPS, MODEL-2). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "ops.h"
#include "tensor.h"
#include "util.h"

#define MAX_TENSORS 4096

typedef struct {
    const char *name;
    tensor *t;
    int kind; /* 0 image, 1 bits, 2 acc, 3 real, 4 logits */
} named;

typedef struct {
    const char *model_dir;
    named tensors[MAX_TENSORS];
    size_t n_tensors;
    named arrays[MAX_TENSORS];
    size_t n_arrays;
    const jvalue *node;
    const char *node_name;
} net_t;

static void check_member(const char *s, const char *where)
{
    if (!*s || s[0] == '.' || strlen(s) > 200)
        fail("%s: invalid array member name '%s'", where, s);
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            fail("%s: invalid character in array member name '%s'", where, s);
    }
}

static tensor *get_array(net_t *m, const char *role)
{
    const jvalue *arrays = json_req(m->node, "arrays", J_OBJECT, m->node_name);
    const char *member = json_req_str(arrays, role, m->node_name);
    check_member(member, m->node_name);
    for (size_t i = 0; i < m->n_arrays; i++)
        if (!strcmp(m->arrays[i].name, member))
            return m->arrays[i].t;
    if (m->n_arrays == MAX_TENSORS)
        fail("model: more than %d arrays", MAX_TENSORS);
    char file[260];
    snprintf(file, sizeof file, "arrays/%s.npy", member);
    char *path = path_join(m->model_dir, file);
    tensor *t = npy_read(path, xstrdup(member));
    xfree(path);
    m->arrays[m->n_arrays].name = xstrdup(member);
    m->arrays[m->n_arrays].t = t;
    m->n_arrays++;
    return t;
}

static tensor *lookup(net_t *m, const char *name, int kind)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) {
            if (m->tensors[i].kind != kind)
                fail("%s: input '%s' is not of the kind this op reads (NET-6)", m->node_name,
                     name);
            return m->tensors[i].t;
        }
    fail("%s: input '%s' is not defined by an earlier node (NET-6)", m->node_name, name);
}

static void define(net_t *m, const char *name, tensor *t, int kind)
{
    for (size_t i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            fail("%s: output '%s' is already defined (NET-6)", m->node_name, name);
    if (m->n_tensors == MAX_TENSORS)
        fail("model: more than %d tensors", MAX_TENSORS);
    m->tensors[m->n_tensors].name = name;
    m->tensors[m->n_tensors].t = t;
    m->tensors[m->n_tensors].kind = kind;
    m->n_tensors++;
}

static long long node_int(net_t *m, const char *key, long long lo, long long hi)
{
    const jvalue *attrs = json_req(m->node, "attrs", J_OBJECT, m->node_name);
    return json_req_int(attrs, key, lo, hi, m->node_name);
}

static const char *node_str(net_t *m, const char *key)
{
    const jvalue *attrs = json_req(m->node, "attrs", J_OBJECT, m->node_name);
    return json_req_str(attrs, key, m->node_name);
}

static void node_bn(net_t *m, const char *role, bn_t *bn)
{
    char key[64];
    snprintf(key, sizeof key, "%s.weight", role);
    bn->gamma = get_array(m, key);
    snprintf(key, sizeof key, "%s.bias", role);
    bn->beta = get_array(m, key);
    snprintf(key, sizeof key, "%s.running_mean", role);
    bn->mean = get_array(m, key);
    snprintf(key, sizeof key, "%s.running_var", role);
    bn->var = get_array(m, key);
    const jvalue *attrs = json_req(m->node, "attrs", J_OBJECT, m->node_name);
    const jvalue *eps = json_req(attrs, "eps", J_OBJECT, m->node_name);
    bn->eps = json_req_num(eps, role, m->node_name);
    check_rank(bn->gamma, 1);
    bn->channels = bn->gamma->shape[0];
    check_bn(bn);
}

static const char *io_name(net_t *m, const char *field, size_t i, size_t count)
{
    const jvalue *list = json_req(m->node, field, J_ARRAY, m->node_name);
    if (list->count != count)
        fail("%s: %zu %s, the op has %zu (OPS-1)", m->node_name, list->count, field, count);
    if (list->items[i].type != J_STRING)
        fail("%s: %s[%zu] is not a string", m->node_name, field, i);
    return list->items[i].string;
}

static void check_io(net_t *m, size_t n_in, size_t n_out)
{
    io_name(m, "inputs", 0, n_in);
    io_name(m, "outputs", 0, n_out);
}

typedef void (*writer_t)(void *, const char *, const tensor *);

static void emit(net_t *m, writer_t write, void *wctx, size_t i, tensor *t, int kind)
{
    const char *name = io_name(m, "outputs", i, json_req(m->node, "outputs", J_ARRAY,
                                                          m->node_name)->count);
    define(m, name, t, kind);
    write(wctx, name, t);
}

static conv_params node_conv(net_t *m)
{
    conv_params p;
    p.stride = node_int(m, "stride", 1, 65535);
    p.padding = node_int(m, "padding", 0, 65535);
    p.dilation = node_int(m, "dilation", 1, 65535);
    p.groups = node_int(m, "groups", 1, 65535);
    p.pad_mode = parse_pad_mode(node_str(m, "pad_mode"), p.padding);
    return p;
}

static void run_stem(net_t *m, writer_t write, void *wctx)
{
    check_io(m, 1, 1);
    tensor *image = lookup(m, io_name(m, "inputs", 0, 1), 0);
    const char *variant = node_str(m, "variant");
    tensor *img = to_f64(image);
    /* STEM-2, STEM-3: conv1 (7x7, stride 2, padding 3), BN0, MaxPool2d(3, 2, 1) */
    tensor *conv = real_conv2d(img, get_array(m, "conv1.weight"), 2, 3, 1);
    bn_t bn0;
    node_bn(m, "bn0", &bn0);
    tensor *y0 = batchnorm(conv, &bn0);
    tensor *f = real_maxpool(y0, 3, 2, 1);
    tensor_free(img);
    tensor_free(conv);
    tensor_free(y0);
    tensor *offsets = get_array(m, "offsets");
    tensor *bits;
    if (!strcmp(variant, "basenet")) {
        bn_t bn;
        node_bn(m, "bn", &bn);
        bits = basenet_stem(f, &bn, offsets); /* STEM-4 */
    } else if (!strcmp(variant, "boolnet")) {
        bn_t bn1, bn2, bn_las; /* STEM-5 */
        node_bn(m, "bn1", &bn1);
        node_bn(m, "bn2", &bn2);
        node_bn(m, "bn_las", &bn_las);
        tensor *y1 = batchnorm(f, &bn1);
        tensor *y2 = batchnorm(f, &bn2);
        tensor *d = real_conv2d(y2, get_array(m, "las.weight"), 1, 1, (long long)f->shape[1]);
        tensor *y3 = batchnorm(d, &bn_las);
        tensor *z = add_real(y1, y3);
        bits = slice_quantize(z, offsets);
        tensor_free(y1);
        tensor_free(y2);
        tensor_free(d);
        tensor_free(y3);
        tensor_free(z);
    } else {
        fail("%s: unknown stem variant '%s' (NET-2)", m->node_name, variant);
    }
    tensor_free(f);
    emit(m, write, wctx, 0, bits, 1);
}

static void node_units(net_t *m, units_t *u, const tensor *w)
{
    u->polarity = get_array(m, "polarity");
    u->threshold = get_array(m, "threshold");
    check_rank(w, 4);
    size_t n = w->shape[1] * w->shape[2] * w->shape[3];
    if (w->shape[1] > N_MAX || w->shape[2] > N_MAX || w->shape[3] > N_MAX || n < 1 ||
        n > N_MAX)
        fail("%s: dot-product length outside [1, %d] (ACC-3)", m->node_name, N_MAX);
    u->n = (long long)n;
}

static void run_bconv(net_t *m, writer_t write, void *wctx)
{
    check_io(m, 1, 2);
    tensor *x = lookup(m, io_name(m, "inputs", 0, 1), 1);
    conv_params p = node_conv(m);
    const char *read = node_str(m, "read");
    long long pool = node_int(m, "pool", 0, 65535);
    tensor *w = get_array(m, "weight");
    tensor *xs;
    if (!strcmp(read, "slices"))
        xs = select_slices(x, p.groups); /* CONV-4 */
    else if (!strcmp(read, "all"))
        xs = flatten_slices(x); /* CHAN-1 */
    else
        fail("%s: read '%s' is neither slices nor all (NET-3)", m->node_name, read);
    tensor *s = binary_conv2d(xs, w, &p);
    tensor_free(xs);
    units_t u;
    node_units(m, &u, w);
    tensor *bits = pool == 0 ? threshold_slices(s, &u) : threshold_maxpool(s, &u, pool, pool);
    emit(m, write, wctx, 0, s, 2);
    emit(m, write, wctx, 1, bits, 1);
}

static void run_head(net_t *m, writer_t write, void *wctx)
{
    check_io(m, 1, 3);
    tensor *x = lookup(m, io_name(m, "inputs", 0, 1), 1);
    conv_params p = node_conv(m);
    tensor *w = get_array(m, "weight");
    tensor *xs = select_slices(x, p.groups);
    tensor *s2 = binary_conv2d(xs, w, &p);
    tensor_free(xs);
    bn_t bn2, bn3;
    node_bn(m, "bn2", &bn2);
    node_bn(m, "bn3", &bn3);
    tensor *z = last_block_real(s2, get_array(m, "alpha"), &bn2, x, &bn3); /* HEAD-1 */
    tensor *pz = prelu(z, get_array(m, "prelu.weight"));                   /* HEAD-2 */
    tensor *logits = classifier(pz, get_array(m, "fc.weight"), get_array(m, "fc.bias"));
    tensor_free(pz);
    emit(m, write, wctx, 0, s2, 2);
    emit(m, write, wctx, 1, z, 3);
    emit(m, write, wctx, 2, logits, 4);
}

/* NET-6, checked before any work: array members are valid names, no member serves two nodes,
 * and every stored array (arrays/NAME.npy) is used by some node. */
static void check_array_use(const char *model_dir, const jvalue *nodes)
{
    size_t total = 0;
    for (size_t i = 0; i < nodes->count; i++) {
        const jvalue *arrays = json_get(&nodes->items[i], "arrays");
        if (arrays && arrays->type == J_OBJECT)
            total += arrays->count;
    }
    const char **members = xcalloc(total ? total : 1, sizeof *members);
    const char **owners = xcalloc(total ? total : 1, sizeof *owners);
    size_t n = 0;
    for (size_t i = 0; i < nodes->count; i++) {
        const jvalue *node = &nodes->items[i];
        if (node->type != J_OBJECT)
            fail("graph.json: node %zu is not an object (MODEL-2)", i);
        const char *name = json_req_str(node, "name", "graph.json node");
        const jvalue *arrays = json_req(node, "arrays", J_OBJECT, name);
        for (size_t j = 0; j < arrays->count; j++) {
            const jvalue *v = &arrays->items[j];
            if (v->type != J_STRING)
                fail("%s: array role '%s' is not a string (MODEL-2)", name, arrays->keys[j]);
            check_member(v->string, name);
            for (size_t k = 0; k < n; k++) {
                /* one member may serve several roles of one node, never two nodes */
                if (!strcmp(members[k], v->string) && strcmp(owners[k], name) != 0)
                    fail("array '%s' is used by nodes '%s' and '%s' (NET-6)", v->string,
                         owners[k], name);
            }
            members[n] = v->string;
            owners[n] = name;
            n++;
        }
    }
    char *dir_path = path_join(model_dir, "arrays");
    DIR *dir = opendir(dir_path);
    if (!dir)
        fail("%s: cannot open the model's array directory", dir_path);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".npy") != 0)
            continue;
        int used = 0;
        for (size_t k = 0; k < n && !used; k++)
            used = strlen(members[k]) == len - 4 && !strncmp(members[k], e->d_name, len - 4);
        if (!used) {
            char stored[300];
            snprintf(stored, sizeof stored, "%s", e->d_name);
            closedir(dir);
            fail("arrays/%s is used by no node (NET-6)", stored);
        }
    }
    closedir(dir);
    xfree(dir_path);
    xfree(members);
    xfree(owners);
}

void run_network(const char *case_dir, const char *out_dir, const jvalue *desc, writer_t write,
                 void *wctx)
{
    (void)out_dir;
    net_t *m = xcalloc(1, sizeof *m);
    m->model_dir = path_join(case_dir, "model");
    char *gpath = path_join(m->model_dir, "graph.json");
    jvalue *graph = json_load(gpath);
    m->node_name = "graph.json";
    if (graph->type != J_OBJECT)
        fail("%s: not a JSON object (MODEL-2)", gpath);
    const char *format = json_req_str(graph, "format", "graph.json");
    if (strcmp(format, "boolnet-spec-model") != 0)
        fail("graph.json: format '%s', expected boolnet-spec-model (MODEL-2)", format);
    json_req_int(graph, "format_version", 1, 1, "graph.json");
    const jvalue *arch = json_req(graph, "architecture", J_OBJECT, "graph.json");
    long long image_size = json_req_int(arch, "image_size", 1, 1 << 16, "graph.json architecture");
    long long classes = json_req_int(arch, "classes", 1, 1 << 24, "graph.json architecture");
    const jvalue *nodes = json_req(graph, "nodes", J_ARRAY, "graph.json");
    check_array_use(m->model_dir, nodes);

    /* the image: desc.json's single input */
    const jvalue *inputs = json_req(desc, "inputs", J_OBJECT, "desc.json");
    if (inputs->count != 1)
        fail("desc.json: a network case has exactly one input, found %zu", inputs->count);
    const jvalue *ispec = &inputs->items[0];
    const char *ifile = json_req_str(ispec, "file", "desc.json inputs");
    if (strstr(ifile, "..") || ifile[0] == '/')
        fail("desc.json: invalid input path '%s'", ifile);
    char *ipath = path_join(case_dir, ifile);
    tensor *image = npy_read(ipath, "image");
    xfree(ipath);
    /* STEM-1, NET-7 */
    check_dtype(image, DT_F32);
    check_rank(image, 4);
    if (image->shape[0] < 1 || image->shape[1] != 3 || image->shape[2] != (size_t)image_size ||
        image->shape[3] != (size_t)image_size) {
        char s[128];
        shape_str(image, s, sizeof s);
        fail("image: shape %s, expected [N, 3, %lld, %lld] (STEM-1, NET-7)", s, image_size,
             image_size);
    }
    check_finite(image);
    define(m, "image", image, 0);

    for (size_t i = 0; i < nodes->count; i++) {
        m->node = &nodes->items[i];
        if (m->node->type != J_OBJECT)
            fail("graph.json: node %zu is not an object (MODEL-2)", i);
        m->node_name = json_req_str(m->node, "name", "graph.json node");
        const char *op = json_req_str(m->node, "op", m->node_name);
        json_req(m->node, "attrs", J_OBJECT, m->node_name);
        json_req(m->node, "arrays", J_OBJECT, m->node_name);
        if (!strcmp(op, "stem")) {
            run_stem(m, write, wctx);
        } else if (!strcmp(op, "bconv")) {
            run_bconv(m, write, wctx);
        } else if (!strcmp(op, "head")) {
            run_head(m, write, wctx);
        } else if (!strcmp(op, "split")) {
            check_io(m, 1, 2);
            tensor *a, *b;
            split_channels(lookup(m, io_name(m, "inputs", 0, 1), 1), &a, &b);
            emit(m, write, wctx, 0, a, 1);
            emit(m, write, wctx, 1, b, 1);
        } else if (!strcmp(op, "xnor") || !strcmp(op, "or") || !strcmp(op, "shuffle")) {
            check_io(m, 2, 1);
            tensor *a = lookup(m, io_name(m, "inputs", 0, 2), 1);
            tensor *b = lookup(m, io_name(m, "inputs", 1, 2), 1);
            tensor *out = !strcmp(op, "shuffle") ? shuffle_channels(a, b)
                                                 : logic_op(a, b, !strcmp(op, "or"));
            emit(m, write, wctx, 0, out, 1);
        } else {
            fail("%s: unknown op '%s' (OPS-1)", m->node_name, op);
        }
    }
    m->node_name = "graph.json";
    tensor *logits = lookup(m, "logits", 4);
    if (logits->ndim != 2 || logits->shape[1] != (size_t)classes)
        fail("graph.json: logits do not have the architecture's %lld classes (NET-6)", classes);
}
