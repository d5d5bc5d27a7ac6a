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
 * check_tags(buf, lt, body, closes, end) and same_weights(buf, pos, value_start, value_end,
 * width, out) do the tag checks and read the <wgt> weights of lhe_fast where these pass
 * (see each), and count and find count and find one byte, for the same module.
 *
 * Numbers are plain ASCII decimals, [+-]?(digits[.digits]|.digits)([eE][+-]?digits)?, and
 * nan, inf, infinity in any case with an optional sign: the grammar of
 * latentsym.io._lhe_text.PLAIN_NUMBER. The value is the correctly rounded double, as
 * Python's float() gives. Up to 19 digits (leading zeros included) and a decimal exponent
 * within 22, with at most 2^53 as the integer of the digits: one product or quotient of
 * exact doubles (Clinger's fast path); up to 19 digits and an exponent within 27: the
 * product or quotient of two exact long doubles (64-bit significand) rounded once to 64
 * bits, then to 53 bits, which is the correctly rounded double unless the 64-bit result
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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__GNUC__) || defined(__clang__)
#define INLINE inline __attribute__((always_inline))
#else
#define INLINE inline
#endif

/* The digits from p on (not past e) appended to *w, 10 *w + d at a time (wrapping: the
 * caller counts the digits and does not use *w past 19). A byte at a time: reading eight
 * digits from one word (SWAR) measured 8-16 % slower on LHE text, whose digit runs are
 * short. */
static INLINE const unsigned char *read_digits(const unsigned char *p, const unsigned char *e,
                                               uint64_t *w) {
    uint64_t x = *w;
    while (p < e && is_digit(*p)) x = 10 * x + (uint64_t)(*p++ - '0');
    *w = x;
    return p;
}

/* Read the longest plain number at the start of [s, e): its value in *out and *ok = 1,
 * or *ok = 0 where no number starts there. Returns where the number ends (the caller
 * checks that the token ends there too). */
static INLINE const unsigned char *read_number(const unsigned char *s, const unsigned char *e,
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
    /* every digit goes into w, leading zeros too (they add nothing): w is exact while
     * there are at most 19 digits in all; more go to strtod */
    const unsigned char *digits = p;
    uint64_t w = 0;
    p = read_digits(p, e, &w);
    long kept = (long)(p - digits), e10 = 0;
    if (p < e && *p == '.') {
        const unsigned char *fraction = ++p;
        p = read_digits(p, e, &w);
        kept += (long)(p - fraction);
        e10 = -(long)(p - fraction);
    }
    int any = kept > 0;
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

/* A small integer token at p, [+-]?digits with 1 to 7 digits and nothing after them up
 * to a byte <= 32 (or e): its value in *v, and where it ends; NULL for any other token,
 * which read_number then takes. (Such a value is whole and far inside float32, as the
 * integer columns must be.) */
static INLINE const unsigned char *small_int(const unsigned char *p, const unsigned char *e,
                                             int64_t *v) {
    int negative = *p == '-';
    const unsigned char *q = p + (negative | (*p == '+')), *digits = q;
    int64_t x = 0;
    while (q < e && is_digit(*q) && q - digits < 8) x = 10 * x + (*q++ - '0');
    if (q == digits || q - digits > 7 || (q < e && *q > 32)) return NULL;
    *v = negative ? -x : x;
    return q;
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

static inline int number_start(unsigned char c) {
    return is_digit(c) || c == '+' || c == '-' || c == '.';
}

/* whole and below 2^31 in size (False for NaN) */
static inline int small_whole(double x) {
    return fabs(x) < INT_LIMIT_D && x == (double)(int64_t)x;
}

/* a byte that separates tokens within a line */
static inline int blank(unsigned char c) { return c <= 32 && c != '\n'; }

/* The lines of the event text buf[lo:hi]. The counters live in locals (o's arrays may
 * alias nothing of them), stored back at the end. */
static void scan_event(const unsigned char *restrict buf, Py_ssize_t lo, Py_ssize_t hi,
                       int64_t event, Out *restrict o) {
    const unsigned char *p = buf + lo, *e = buf + hi;
    int64_t *restrict lines = o->lines;
    double *restrict info = o->info, *restrict floats = o->floats;
    int64_t *restrict ints = o->ints;
    const Py_ssize_t line_cap = o->line_cap, row_cap = o->row_cap, n_events = o->n_events;
    Py_ssize_t n_lines = o->n_lines, n_rows = o->n_rows, bad = o->bad;
    int overflow = o->overflow, checked = o->checked, first = 1;
    while (p < e) {
        while (p < e && blank(*p)) p++;
        if (p == e) break;
        if (*p == '\n') { /* a blank line */
            p++;
            continue;
        }
        const unsigned char *start = p;
        int kind = first ? (*p == '#' ? 4 : 0) : *p == '#' ? 2 : number_start(*p) ? 1 : 3;
        Py_ssize_t tokens = 0;
        if (kind <= 1) {
            Py_ssize_t row = n_rows;
            int room = kind == 0 || row < row_cap;
            for (;;) {
                int64_t whole_value;
                const unsigned char *q;
                if (kind == 1 && tokens < 6 && room &&
                    (q = small_int(p, e, &whole_value)) != NULL) {
                    ints[tokens * row_cap + row] = whole_value; /* the common case */
                    tokens++;
                    p = q;
                    while (p < e && blank(*p)) p++;
                    if (p == e || *p == '\n') break;
                    continue;
                }
                double value = NAN;
                int ok;
                q = read_number(p, e, &value, &ok);
                if (q < e && *q > 32) { /* the token goes on: not a number */
                    ok = 0;
                    while (q < e && *q > 32) q++;
                }
                if (!ok) {
                    value = NAN;
                    if (bad < 0) bad = p - buf;
                }
                if (!(fabs(value) <= FLOAT32_MAX_D)) checked = 0; /* also NaN */
                if (kind == 0) {
                    if (tokens < 6) {
                        if (tokens == 1 && !small_whole(value)) checked = 0; /* IDPRUP */
                        info[tokens * n_events + event] = value;
                    } else {
                        overflow = 1;
                    }
                } else if (tokens >= 13 || !room) {
                    overflow = 1;
                } else if (tokens < 6) {
                    int whole = small_whole(value);
                    ints[tokens * row_cap + row] = whole ? (int64_t)value : 0;
                    checked &= whole;
                } else {
                    floats[(tokens - 6) * row_cap + row] = value;
                }
                tokens++;
                p = q;
                while (p < e && blank(*p)) p++;
                if (p == e || *p == '\n') break;
            }
            if (kind == 1) {
                if (tokens != 13) checked = 0;
                if (room) n_rows++;
            } else if (tokens != 6) {
                checked = 0;
            }
        } else {
            for (;;) { /* count the tokens */
                while (p < e && *p > 32) p++;
                tokens++;
                while (p < e && blank(*p)) p++;
                if (p == e || *p == '\n') break;
            }
        }
        if (p < e) p++; /* the '\n' */
        first = 0;
        if (n_lines < line_cap) {
            int64_t *row = lines + 4 * n_lines++;
            row[0] = start - buf, row[1] = tokens, row[2] = event, row[3] = kind;
        } else {
            overflow = 1;
        }
    }
    o->n_lines = n_lines, o->n_rows = n_rows, o->bad = bad;
    o->overflow = overflow, o->checked = checked;
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

/* The buffers of the n arguments of scan, check_tags and same_weights: objs[0] the text
 * (bytes), the others arrays of 8-byte items, the last n_out of them written to. 0, or -1
 * with an exception set and nothing held. */
static int get_buffers(PyObject *const *objs, Py_buffer *views, int n, int n_out,
                       const char *const *what) {
    for (int i = 0; i < n; i++) {
        if (get_buffer(objs[i], &views[i], i >= n - n_out, i ? 8 : 1, what[i]) < 0) {
            while (i--) PyBuffer_Release(&views[i]);
            return -1;
        }
    }
    return 0;
}

static void release_buffers(Py_buffer *views, int n) {
    for (int i = 0; i < n; i++) PyBuffer_Release(&views[i]);
}

static PyObject *scan(PyObject *self, PyObject *args) {
    enum { N = 7 };
    PyObject *objs[N];
    Py_buffer views[N];
    static const char *what[N] = {"buf", "body", "text_end", "info", "floats", "ints", "lines"};
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOOO:scan", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &objs[5], &objs[6]) ||
        get_buffers(objs, views, N, 4, what) < 0)
        return NULL;
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
    release_buffers(views, N);
    return result;
}

/* Whether [lo, hi) is text a closing tag may have after it inside an event: lines that
 * are blank or start with '#' once Python's bytes.strip() whitespace is taken off their
 * start (the rule of latentsym.io.lhe_fast._check_tags, which does not look at short
 * runs of other bytes up to 32 either: those are refused here and numpy decides). */
static int text_after_tag_ok(const unsigned char *buf, Py_ssize_t lo, Py_ssize_t hi) {
    for (Py_ssize_t i = lo; i < hi;) {
        while (i < hi && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' ||
                          buf[i] == '\x0b' || buf[i] == '\x0c'))
            i++;
        if (i < hi && buf[i] != '\n' && buf[i] != '#') return 0;
        while (i < hi && buf[i] != '\n') i++; /* the rest of the line */
        i++;
    }
    return 1;
}

/* check_tags(buf, lt, body, closes, end) -> bool: the checks of lhe_fast._check_tags where
 * they pass. lt: the offsets of every '<' of buf; body: where the text of each event
 * starts; closes: the offset of each event's </event>. Writes the offset of the '>'
 * that closes each tag to end. False where a check fails, and then the numpy route
 * finds which and says so. */
static PyObject *check_tags(PyObject *self, PyObject *args) {
    enum { N = 5 };
    PyObject *objs[N];
    Py_buffer views[N];
    static const char *what[N] = {"buf", "lt", "body", "closes", "end"};
    int ok = 1;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOO:check_tags", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4]) ||
        get_buffers(objs, views, N, 1, what) < 0)
        return NULL;
    const unsigned char *buf = views[0].buf;
    Py_ssize_t len = views[0].len, nl = views[1].len / 8, n = views[2].len / 8;
    const int64_t *lt = views[1].buf, *body = views[2].buf, *closes = views[3].buf;
    int64_t *end = views[4].buf;
    if (views[3].len / 8 != n || views[4].len / 8 != nl || len == 0) {
        PyErr_SetString(PyExc_ValueError, "check_tags: the arrays do not match");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t ev = -1, balance = 0;
    for (Py_ssize_t k = 0; k < nl && ok; k++) {
        Py_ssize_t a = lt[k], limit = k + 1 < nl ? lt[k + 1] : len;
        if (a < 0 || a >= len || limit > len || limit < a) {
            ok = 0;
            break;
        }
        const unsigned char *g = memchr(buf + a, '>', (size_t)(limit - a));
        if (g == NULL) {
            ok = 0;
            break;
        }
        end[k] = g - buf;
        while (ev + 1 < n && body[ev + 1] <= a) { /* the event this tag lies in */
            if (ev >= 0 && balance != 0) ok = 0;
            ev++;
            balance = 0;
        }
        if (ev < 0 || a >= closes[ev]) continue; /* not inside an event's text */
        unsigned char second = buf[a + 1 < len ? a + 1 : len - 1];
        int close = second == '/', empty = buf[end[k] - 1] == '/' || second == '?';
        balance += close ? -1 : empty ? 0 : 1;
        if ((close || empty) &&
            (k + 1 >= nl || !text_after_tag_ok(buf, end[k] + 1, lt[k + 1])))
            ok = 0;
    }
    if (ev >= 0 && balance != 0) ok = 0;
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(ok);
done:
    release_buffers(views, N);
    return result;
}

/* same_weights(buf, pos, value_start, value_end, width, out) -> bool: the <wgt> elements
 * of lhe_fast._same_weights, width to an event: element j opens at pos[j] with the tag
 * buf[pos[j]:value_start[j]], byte for byte the tag of element j % width (the first
 * event's), holds one number up to value_end[j], where exactly "</wgt>" follows. Writes
 * the numbers to out; False where any of this does not hold (the numpy route then
 * reads the weights, or says what is wrong). */
static PyObject *same_weights(PyObject *self, PyObject *args) {
    enum { N = 5 };
    PyObject *objs[N];
    Py_buffer views[N];
    static const char *what[N] = {"buf", "pos", "value_start", "value_end", "out"};
    Py_ssize_t width;
    int ok = 1;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOnO:same_weights", &objs[0], &objs[1], &objs[2], &objs[3],
                          &width, &objs[4]) ||
        get_buffers(objs, views, N, 1, what) < 0)
        return NULL;
    const unsigned char *buf = views[0].buf;
    Py_ssize_t len = views[0].len, m = views[1].len / 8;
    const int64_t *pos = views[1].buf, *vs = views[2].buf, *ve = views[3].buf;
    double *out = views[4].buf;
    if (views[2].len / 8 != m || views[3].len / 8 != m || views[4].len / 8 != m ||
        width <= 0 || m % width) {
        PyErr_SetString(PyExc_ValueError, "same_weights: the arrays do not match");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t j = 0; j < m && ok; j++) {
        Py_ssize_t f = j % width, tag = vs[j] - pos[j];
        if (pos[j] < 0 || tag <= 0 || ve[j] < vs[j] || ve[j] + 6 > len ||
            tag != vs[f] - pos[f] || memcmp(buf + pos[j], buf + pos[f], (size_t)tag) ||
            memcmp(buf + ve[j], "</wgt>", 6)) {
            ok = 0;
            break;
        }
        const unsigned char *p = buf + vs[j], *e = buf + ve[j];
        while (p < e && *p <= 32) p++;
        const unsigned char *s = p;
        while (p < e && *p > 32) p++;
        const unsigned char *t = p;
        while (p < e && *p <= 32) p++;
        ok = s < t && p == e && parse_number(s, t, &out[j]);
    }
    Py_END_ALLOW_THREADS
    result = PyBool_FromLong(ok);
done:
    release_buffers(views, N);
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
#if defined(__SSE2__)
    /* 64 bytes at a time: one test where the byte is absent, a mask walked bit by bit
     * where it is there (memchr's call per hit costs more where hits are dense) */
    const __m128i c = _mm_set1_epi8((char)byte);
    for (; end - p >= 64; p += 64) {
        __m128i e0 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), c);
        __m128i e1 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), c);
        __m128i e2 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), c);
        __m128i e3 = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), c);
        if (!_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(e0, e1), _mm_or_si128(e2, e3))))
            continue;
        uint64_t bits = (uint64_t)(uint16_t)_mm_movemask_epi8(e0) |
                        (uint64_t)(uint16_t)_mm_movemask_epi8(e1) << 16 |
                        (uint64_t)(uint16_t)_mm_movemask_epi8(e2) << 32 |
                        (uint64_t)(uint16_t)_mm_movemask_epi8(e3) << 48;
        for (; bits; bits &= bits - 1) {
            if (n < room) dest[n] = (p - start) + __builtin_ctzll(bits);
            n++;
        }
    }
#endif
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
    {"check_tags", check_tags, METH_VARARGS,
     "check_tags(buf, lt, body, closes, end) -> bool: the tag checks of the event text where "
     "they pass, the '>' of each tag written to end (see the module source)."},
    {"same_weights", same_weights, METH_VARARGS,
     "same_weights(buf, pos, value_start, value_end, width, out) -> bool: the <wgt> "
     "numbers where every event has the first event's tags (see the module source)."},
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
