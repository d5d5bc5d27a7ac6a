/* The lines and numbers of the event text of an LHE block, in one pass (latentsym.io).
 *
 * scan(buf, body, text_end, info, floats, ints, lines) walks the text of each event,
 * buf[body[k]:text_end[k]], line by line (lines end at '\n'; a token is a run of bytes
 * above 32, as the numpy route of latentsym.io.lhe_fast splits them), and writes
 *
 *   lines:  four int64 per non-blank line: where its first token starts, how many tokens
 *           it has, its event, its kind (0 the event's information line, 1 a particle
 *           line, 2 a '#' line, 3 other text, 4 an information line that starts with '#');
 *   info:   [6, n] float64, column by column: the information line of each event;
 *   floats: [7, R] float64 and ints: [6, R] int64, column by column: the particle lines
 *           (R rows of room; the integer columns as int64, 0 where not whole).
 *
 * It returns (number of lines, particle rows written, the offset of the first token of an
 * information or particle line that is not a plain number or -1, whether a line had more
 * numbers than 6 or 13 or did not fit, whether every number is within float32, every
 * integer column and IDPRUP a whole number below 2^31 in size and every line of its
 * length). The checks of latentsym.io.lhe_fast decide what is wrong where this is false.
 *
 * Numbers are plain ASCII decimals, [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?, and
 * nan, inf, infinity in any case with an optional sign: the grammar of
 * latentsym.io._lhe_text.PLAIN_NUMBER. The value is the correctly rounded double, as
 * Python's float() gives: up to 19 significant digits and a decimal exponent within 27
 * the product or quotient of two exact long doubles (64-bit significand) rounded once to
 * 64 bits, then to 53 bits, which is the correctly rounded double unless the 64-bit result
 * lies exactly halfway between two doubles; that case, and every other, goes to strtod in
 * the C locale (correctly rounded in glibc and macOS libc). The GIL is released while it
 * runs, so that blocks parse on several threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__) || defined(__APPLE__)
#include <locale.h>
#if defined(__APPLE__)
#include <xlocale.h>
#endif
#define HAVE_STRTOD_L 1
static locale_t c_locale;
#endif

#if LDBL_MANT_DIG >= 64
#define MAX_POW10 27 /* 10^27 = 2^27 5^27 with 5^27 < 2^63: exact in a 64-bit significand */
static long double pow10_table[MAX_POW10 + 1];
#else
#define MAX_POW10 22 /* beyond the fast path: strtod */
#endif

static double exact10[23]; /* 10^0 .. 10^22: exact doubles */

#if LDBL_MANT_DIG >= 64
/* Whether the 64-bit long double r lies exactly halfway between two doubles (d is r
 * rounded to double): then rounding twice may differ from rounding once. */
static int halfway(long double r, double d) {
#if LDBL_MANT_DIG == 64 && (defined(__x86_64__) || defined(__i386__))
    /* x87 extended: the significand is the first 8 bytes; halfway is 1 then ten 0s in
     * the 11 bits a double drops (r is normal and far from the double range's ends) */
    uint64_t bits;
    (void)d;
    memcpy(&bits, &r, sizeof bits);
    return (bits & 0x7FF) == 0x400;
#else
    if ((long double)d == r) return 0;
    double next = r > (long double)d ? nextafter(d, INFINITY) : nextafter(d, -INFINITY);
    return ((long double)d + (long double)next) / 2 == r;
#endif
}
#endif

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* Whether [s, e) starts with word (lower case) in any case. */
static int starts_with(const unsigned char *s, const unsigned char *e, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(e - s) < n) return 0;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] | 0x20) != (unsigned char)word[i]) return 0;
    }
    return 1;
}

/* strtod on [s, e), which the grammar has accepted */
static int slow_number(const unsigned char *s, const unsigned char *e, double *out) {
    char local[128];
    size_t n = (size_t)(e - s);
    char *text = n < sizeof(local) ? local : malloc(n + 1);
    char *end = NULL;
    if (text == NULL) return 0;
    memcpy(text, s, n);
    text[n] = '\0';
#ifdef HAVE_STRTOD_L
    *out = strtod_l(text, &end, c_locale);
#else
    *out = strtod(text, &end);
#endif
    int ok = end == text + n;
    if (text != local) free(text);
    return ok;
}

/* Read the longest plain number at the start of [s, e): its value in *out and *ok = 1,
 * or *ok = 0 where no number starts there. Returns where the number ends (the caller
 * checks that the token ends there too). */
static const unsigned char *read_number(const unsigned char *s, const unsigned char *e,
                                        double *out, int *ok) {
    const unsigned char *p = s;
    int negative = 0;
    *ok = 0;
    if (p < e && (*p == '+' || *p == '-')) {
        negative = *p == '-';
        p++;
    }
    if (p < e && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') {
        size_t n = starts_with(p, e, "infinity") ? 8 : starts_with(p, e, "inf") ? 3
                 : starts_with(p, e, "nan")      ? 3 : 0;  /* clang-format off */
        if (n == 0) return p;
        *out = p[0] == 'n' || p[0] == 'N' ? (negative ? -NAN : NAN)
                                          : (negative ? -INFINITY : INFINITY);
        *ok = 1;
        return p + n;
    }
    const unsigned char *digits = p;
    while (p < e && *p == '0') p++; /* leading zeros */
    const unsigned char *sig = p;
    uint64_t w = 0; /* the first 19 significant digits (more: strtod) */
    while (p < e && is_digit(*p)) w = 10 * w + (uint64_t)(*p++ - '0');
    long kept = (long)(p - sig), e10 = 0;
    int any = p > digits;
    if (p < e && *p == '.') {
        const unsigned char *fraction = ++p;
        if (kept == 0) {
            while (p < e && *p == '0') p++; /* zeros after the point of 0.000...: scale only */
        }
        const unsigned char *more = p;
        while (p < e && is_digit(*p)) w = 10 * w + (uint64_t)(*p++ - '0');
        kept += (long)(p - more);
        e10 = -(long)(p - fraction);
        any |= p > fraction;
    }
    if (!any) return p;
    if (p < e && (*p == 'e' || *p == 'E')) {
        const unsigned char *q = p + 1;
        int minus = 0;
        long x = 0;
        if (q < e && (*q == '+' || *q == '-')) minus = *q++ == '-';
        if (q == e || !is_digit(*q)) return p; /* "1e", "1e+": not a number */
        for (; q < e && is_digit(*q); q++) {
            if (x < 100000) x = 10 * x + (*q - '0');
        }
        e10 += minus ? -x : x;
        p = q;
    }
    *ok = 1;
    if (kept > 19 || e10 > MAX_POW10 || e10 < -MAX_POW10) {
        *ok = slow_number(s, p, out);
        return p;
    }
    if (w == 0) {
        *out = negative ? -0.0 : 0.0;
        return p;
    }
    if (w <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        /* Clinger's fast path: both operands exact doubles, one rounding */
        double d = e10 >= 0 ? (double)w * exact10[e10] : (double)w / exact10[-e10];
        *out = negative ? -d : d;
        return p;
    }
#if LDBL_MANT_DIG >= 64
    long double r = e10 >= 0 ? (long double)w * pow10_table[e10]
                             : (long double)w / pow10_table[-e10];
    double d = (double)r;
    if (halfway(r, d)) {
        *ok = slow_number(s, p, out);
        return p;
    }
    *out = negative ? -d : d;
#else
    *ok = slow_number(s, p, out);
#endif
    return p;
}

/* The value of the token [s, e) in *out; 0 when it is not a plain number. */
static int parse_number(const unsigned char *s, const unsigned char *e, double *out) {
    int ok;
    return read_number(s, e, out, &ok) == e && ok;
}

#define FLOAT32_MAX_D 3.4028234663852886e38 /* FLT_MAX as a double */
#define INT_LIMIT_D 2147483648.0             /* 2^31 */

typedef struct {
    int64_t *lines;
    Py_ssize_t line_cap, n_lines;
    double *info, *floats;
    int64_t *ints;
    Py_ssize_t n_events, row_cap, n_rows;
    Py_ssize_t bad;
    int overflow, checked;
} Out;

static int number_start(unsigned char c) {
    return is_digit(c) || c == '+' || c == '-' || c == '.';
}

/* whole and below 2^31 in size (False for NaN) */
static int small_whole(double x) { return fabs(x) < INT_LIMIT_D && x == (double)(int64_t)x; }

static void store(Out *o, int kind, Py_ssize_t column, int64_t event, double value) {
    if (!(fabs(value) <= FLOAT32_MAX_D)) o->checked = 0; /* also NaN */
    if (kind == 0) {
        if (column >= 6) {
            o->overflow = 1;
            return;
        }
        if (column == 1 && !small_whole(value)) o->checked = 0; /* IDPRUP */
        o->info[column * o->n_events + event] = value;
        return;
    }
    if (column >= 13 || o->n_rows >= o->row_cap) {
        o->overflow = 1;
        return;
    }
    Py_ssize_t row = o->n_rows;
    if (column < 6) {
        if (small_whole(value)) {
            o->ints[column * o->row_cap + row] = (int64_t)value;
        } else {
            o->ints[column * o->row_cap + row] = 0;
            o->checked = 0;
        }
    } else {
        o->floats[(column - 6) * o->row_cap + row] = value;
    }
}

static void scan_event(const unsigned char *buf, Py_ssize_t lo, Py_ssize_t hi, int64_t event,
                       Out *o) {
    Py_ssize_t i = lo;
    int first = 1;
    while (i < hi) {
        /* one line: from i to the next '\n' (or hi) */
        Py_ssize_t start = -1, tokens = 0;
        int kind = 0;
        while (i < hi && buf[i] != '\n') {
            if (buf[i] <= 32) {
                i++;
                continue;
            }
            Py_ssize_t t = i;
            if (start < 0) {
                start = t;
                if (first) {
                    kind = buf[t] == '#' ? 4 : 0;
                } else if (buf[t] == '#') {
                    kind = 2;
                } else {
                    kind = number_start(buf[t]) ? 1 : 3;
                }
            }
            if (kind <= 1) {
                double value = NAN;
                int ok;
                i = read_number(buf + t, buf + hi, &value, &ok) - buf;
                if (i < hi && buf[i] > 32) ok = 0; /* the token goes on: not a number */
                if (!ok) {
                    value = NAN;
                    if (o->bad < 0) o->bad = t;
                }
                store(o, kind, tokens, event, value);
            }
            while (i < hi && buf[i] > 32) i++;
            tokens++;
        }
        if (i < hi) i++; /* the '\n' */
        if (start < 0) continue; /* a blank line */
        first = 0;
        if (kind == 1) {
            if (tokens != 13) o->checked = 0;
            if (tokens > 13) o->overflow = 1;
            if (o->n_rows < o->row_cap) o->n_rows++;
        } else if (kind == 0 && tokens != 6) {
            o->checked = 0;
        }
        if (o->n_lines < o->line_cap) {
            int64_t *row = o->lines + 4 * o->n_lines++;
            row[0] = start, row[1] = tokens, row[2] = event, row[3] = kind;
        } else {
            o->overflow = 1;
        }
    }
}

static int get_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t itemsize,
                      const char *what) {
    if (PyObject_GetBuffer(obj, view, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (itemsize > 1 && view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: %zd-byte items expected", what, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    enum { N = 7 };
    PyObject *objs[N];
    Py_buffer views[N];
    static const char *what[N] = {"buf", "body", "text_end", "info", "floats", "ints", "lines"};
    static const int writable[N] = {0, 0, 0, 1, 1, 1, 1};
    static const Py_ssize_t size[N] = {1, 8, 8, 8, 8, 8, 8};
    int got = 0;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOO:scan", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &objs[5], &objs[6]))
        return NULL;
    for (; got < N; got++) {
        if (get_buffer(objs[got], &views[got], writable[got], size[got], what[got]) < 0)
            goto done;
    }
    const unsigned char *buf = views[0].buf;
    Py_ssize_t len = views[0].len;
    const int64_t *body = views[1].buf, *text_end = views[2].buf;
    Py_ssize_t n = views[1].len / 8, rows = views[4].len / 8 / 7;
    if (views[2].len / 8 != n || views[3].len / 8 != 6 * n || views[5].len / 8 / 6 != rows) {
        PyErr_SetString(PyExc_ValueError, "scan: the output arrays do not match");
        goto done;
    }
    Out o = {views[6].buf, views[6].len / 32, 0, views[3].buf, views[4].buf, views[5].buf,
             n, rows, 0, -1, 0, 1};
    int ranges_ok = 1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n; k++) {
        if (body[k] < 0 || text_end[k] > len || body[k] > text_end[k]) {
            ranges_ok = 0;
            break;
        }
        scan_event(buf, body[k], text_end[k], k, &o);
    }
    Py_END_ALLOW_THREADS
    if (!ranges_ok) {
        PyErr_SetString(PyExc_ValueError, "scan: an event's text lies outside buf");
        goto done;
    }
    result = Py_BuildValue("nnnii", o.n_lines, o.n_rows, o.bad, o.overflow, o.checked);
done:
    for (int i = 0; i < got; i++) PyBuffer_Release(&views[i]);
    return result;
}

static PyObject *count(PyObject *self, PyObject *args) {
    Py_buffer view;
    int byte;
    Py_ssize_t n = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*i:count", &view, &byte)) return NULL;
    const unsigned char *p = view.buf, *end = p + view.len, c = (unsigned char)byte;
    Py_BEGIN_ALLOW_THREADS
    for (; end - p >= 64; p += 64) { /* blocks the compiler vectorises */
        unsigned char k = 0;
        for (int j = 0; j < 64; j++) k += p[j] == c;
        n += k;
    }
    for (; p < end; p++) n += *p == c;
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(n);
}

static PyObject *find(PyObject *self, PyObject *args) {
    Py_buffer view, out;
    int byte;
    Py_ssize_t n = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*iw*:find", &view, &byte, &out)) return NULL;
    if (out.itemsize != 8) {
        PyBuffer_Release(&view);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_TypeError, "find: out must hold int64");
        return NULL;
    }
    const unsigned char *start = view.buf, *p = start, *end = start + view.len;
    int64_t *dest = out.buf;
    Py_ssize_t room = out.len / 8;
    Py_BEGIN_ALLOW_THREADS
    while (p < end && (p = memchr(p, byte, (size_t)(end - p))) != NULL) {
        if (n < room) dest[n] = p - start;
        n++;
        p++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyBuffer_Release(&out);
    return PyLong_FromSsize_t(n);
}

static PyObject *number(PyObject *self, PyObject *arg) {
    Py_buffer view;
    double value = 0.0;
    (void)self;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *s = view.buf;
    int ok = view.len > 0 && parse_number(s, s + view.len, &value);
    PyBuffer_Release(&view);
    if (!ok) Py_RETURN_NONE;
    return PyFloat_FromDouble(value);
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(buf, body, text_end, info, rows, lines) -> (lines, info, rows, bad, overflow): "
     "the lines and numbers of the event text (see the module source)."},
    {"count", count, METH_VARARGS,
     "count(buf, byte) -> int: how many times byte occurs in buf."},
    {"find", find, METH_VARARGS,
     "find(buf, byte, out) -> int: the offsets of byte in buf written to the int64 array "
     "out (as many as fit); returns how many there are."},
    {"number", number, METH_O,
     "number(token: bytes) -> float | None: the value of a plain ASCII number, None if the "
     "token is not one."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lhe_scan",
    "The lines and numbers of the event text of an LHE block, in one pass, in C.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__lhe_scan(void) {
#if LDBL_MANT_DIG >= 64
    pow10_table[0] = 1;
    for (int i = 1; i <= MAX_POW10; i++) pow10_table[i] = pow10_table[i - 1] * 10;
#endif
    exact10[0] = 1;
    for (int i = 1; i <= 22; i++) exact10[i] = exact10[i - 1] * 10;
#ifdef HAVE_STRTOD_L
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0) {
        PyErr_SetString(PyExc_ImportError, "no C locale for strtod_l");
        return NULL;
    }
#endif
    return PyModule_Create(&module);
}
