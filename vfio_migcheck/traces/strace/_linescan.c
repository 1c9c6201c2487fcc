/* Skipping the irrelevant lines of a clean strace block in C (see linescan.py).
 *
 * The Python reader's skip pattern (scan.py) decides, line by line, whether a line is one
 * that the per-line path would settle as irrelevant without touching any state. CPython's
 * regex engine needs ~0.6 us a line for that decision on a QEMU capture; this module makes
 * the same decisions (a subset of them: anything unusual stops the scan) in one pass over
 * the text, and pairs the halves of quiet split calls itself instead of proving the
 * pairing afterwards.
 *
 * Scanner(...) holds what the decisions read of the reader's state (known threads, the
 * ordinary-file fds with their -y decorations, the epoll fds, whether a data fd is open,
 * the call names the reader knows); Scanner.scan(block, pos, end, busy) steps over lines
 * from the newline at pos and returns (stop, lines, pending):
 *   stop     the newline in front of the first line it did not step over (end if none);
 *   lines    how many lines it stepped over;
 *   pending  ((newline, index), ...): first halves of quiet split calls it stepped over
 *            whose second half lies past stop (index: the line's place among the lines
 *            stepped over, 0 first), in text order; the reader reads them as the per-line
 *            path would have.
 * busy: the threads with a call pending in the reader (-1: the thread without a pid
 * column); a line of such a thread stops the scan.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { NAME_LOUD = 1, NAME_READ, NAME_WRITE, NAME_IOCTL, NAME_RECVMSG, NAME_EPOLL_WAIT,
       NAME_POLL, NAME_POLL_SET };
enum { PEND_NONE = 0, PEND_QUIET, PEND_IOCTL };

typedef struct {
    long long tid;          /* -1: lines without a pid column */
    int busy;               /* a call pending in the reader: its lines stop the scan */
    int pending;            /* PEND_*: the first half this scan stepped over */
    const char *name;       /* its call name (in the block) */
    Py_ssize_t name_len;
    Py_ssize_t begin;       /* the newline in front of it */
    Py_ssize_t index;       /* its place among the lines stepped over */
} ThreadSlot;

typedef struct {
    long long fd;
    const char *token;      /* the exact "fd<...>" text of its -y decoration, or NULL */
    Py_ssize_t token_len;
} OtherFd;

typedef struct {
    const char *text;
    Py_ssize_t len;
    int code;
} NameCode;

typedef struct {
    const char *text;
    Py_ssize_t len;
} Prefix;

typedef struct {
    PyObject_HEAD
    int steady;             /* a timestamp needs no reading by the clock */
    int data_open;          /* a data fd is open: polls are left to the reader */
    int pid_column;         /* lines carry a pid column ("PID " or "[pid PID] ") */
    ThreadSlot *threads;    /* sorted by tid */
    Py_ssize_t n_threads;
    ThreadSlot *unprefixed; /* the thread of lines without a pid column, or NULL */
    OtherFd *others;        /* sorted by fd */
    Py_ssize_t n_others;
    long long *epolls;
    Py_ssize_t n_epolls;
    long long *known;       /* every fd of the table, sorted */
    Py_ssize_t n_known;
    NameCode *names;        /* sorted by text */
    Py_ssize_t n_names;
    Prefix *prefixes;       /* ioctl requests that may return an fd */
    Py_ssize_t n_prefixes;
    PyObject *keep;         /* the str objects the pointers above point into */
} Scanner;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_name_start(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$';
}

static int is_name_char(char c) { return is_name_start(c) || is_digit(c); }

static int contains(const char *s, Py_ssize_t n, const char *needle, Py_ssize_t m) {
    if (n < m)
        return 0;
    const char *end = s + n - m;
    while (s <= end) {
        const char *hit = memchr(s, needle[0], (size_t)(end - s + 1));
        if (hit == NULL)
            return 0;
        if (memcmp(hit, needle, (size_t)m) == 0)
            return 1;
        s = hit + 1;
    }
    return 0;
}

static int ends_with(const char *s, Py_ssize_t n, const char *tail, Py_ssize_t m) {
    return n >= m && memcmp(s + n - m, tail, (size_t)m) == 0;
}

/* A decimal number as str(int) writes it (no leading zero) of 1..max digits at s. */
static Py_ssize_t read_number(const char *s, const char *end, int max, long long *value) {
    Py_ssize_t i = 0;
    long long v = 0;
    while (s + i < end && is_digit(s[i])) {
        if (i == max)
            return 0;
        v = v * 10 + (s[i] - '0');
        i++;
    }
    if (i == 0 || (i > 1 && s[0] == '0'))
        return 0;
    *value = v;
    return i;
}

static ThreadSlot *find_thread(Scanner *self, long long tid) {
    Py_ssize_t lo = 0, hi = self->n_threads;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (self->threads[mid].tid < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->n_threads && self->threads[lo].tid == tid ? &self->threads[lo] : NULL;
}

static OtherFd *find_other(Scanner *self, long long fd) {
    Py_ssize_t lo = 0, hi = self->n_others;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (self->others[mid].fd < fd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->n_others && self->others[lo].fd == fd ? &self->others[lo] : NULL;
}

static int is_epoll(Scanner *self, long long fd) {
    for (Py_ssize_t i = 0; i < self->n_epolls; i++)
        if (self->epolls[i] == fd)
            return 1;
    return 0;
}

static int is_known(Scanner *self, long long fd) {
    Py_ssize_t lo = 0, hi = self->n_known;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (self->known[mid] < fd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->n_known && self->known[lo] == fd;
}

static int name_code(Scanner *self, const char *s, Py_ssize_t n) {
    Py_ssize_t lo = 0, hi = self->n_names;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        const NameCode *at = &self->names[mid];
        Py_ssize_t common = at->len < n ? at->len : n;
        int order = memcmp(at->text, s, (size_t)common);
        if (order == 0)
            order = at->len < n ? -1 : (at->len > n ? 1 : 0);
        if (order == 0)
            return at->code;
        if (order < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* An fd known as an ordinary file at s: undecorated, or with exactly its recorded
 * decoration. Returns the length of the digits, 0 when it is not. */
static Py_ssize_t other_fd_at(Scanner *self, const char *s, const char *end) {
    long long fd;
    Py_ssize_t digits = read_number(s, end, 10, &fd);
    if (digits == 0)
        return 0;
    OtherFd *other = find_other(self, fd);
    if (other == NULL)
        return 0;
    char next = s + digits < end ? s[digits] : '\n';
    if (next == 'x' || next == 'X')
        return 0;
    if (next == '<') {
        if (other->token == NULL || end - s < other->token_len
                || memcmp(s, other->token, (size_t)other->token_len) != 0)
            return 0;
    }
    return digits;
}

/* A poll set that cannot hold a data fd while one is open: every "{fd=" of the line is
 * followed by an ordinary file's fd, or by an fd the table does not know, undecorated. */
static int poll_set_is_quiet(Scanner *self, const char *s, const char *end) {
    const char *p = s;
    while (p < end) {
        const char *hit = memchr(p, '{', (size_t)(end - p));
        if (hit == NULL)
            return 1;
        p = hit + 1;
        if (end - p < 3 || memcmp(p, "fd=", 3) != 0)
            continue;
        p += 3;
        if (other_fd_at(self, p, end))
            continue;
        const char *q = p < end && *p == '-' ? p + 1 : p;
        long long fd;
        Py_ssize_t digits = read_number(q, end, 19, &fd);
        if (digits == 0 || q[0] == '0')
            return 0;
        if (q + digits < end && q[digits] == '<')
            return 0;
        if (q == p && is_known(self, fd))
            return 0;
    }
    return 1;
}

/* A stamp that the clock needs no line for (steady): its length with the blank after it,
 * 0 for none; *time_of_day set for an "HH:MM:SS" one. */
static Py_ssize_t stamp_length(const char *s, const char *end, int *time_of_day) {
    Py_ssize_t i = 0;
    *time_of_day = 0;
    while (s + i < end && is_digit(s[i]))
        i++;
    if (i == 0)
        return 0;
    if (s + i < end && s[i] == '.' && i <= 20) {
        Py_ssize_t j = i + 1;
        while (s + j < end && is_digit(s[j]))
            j++;
        if (j > i + 1 && j - i - 1 <= 20 && s + j < end && s[j] == ' ')
            return j + 1;
        return 0;
    }
    if (i == 2 && end - s >= 9 && s[2] == ':' && is_digit(s[3]) && is_digit(s[4])
            && s[5] == ':' && is_digit(s[6]) && is_digit(s[7])) {
        Py_ssize_t j = 8;
        if (s[j] == '.') {
            Py_ssize_t k = j + 1;
            while (s + k < end && is_digit(s[k]))
                k++;
            if (k == j + 1 || k - j - 1 > 20)
                return 0;
            j = k;
        }
        if (s + j < end && s[j] == ' ') {
            *time_of_day = 1;
            return j + 1;
        }
        return 0;
    }
    if (i >= 8 && i <= 20 && s + i < end && s[i] == ' ')
        return i + 1;
    return 0;
}

/* The thread of a line and where its call starts; NULL when the line's column is not one
 * of a known thread's. */
static ThreadSlot *line_thread(Scanner *self, const char *s, const char *end,
                               const char **rest) {
    if (self->pid_column) {
        long long tid;
        if (s[0] == '[') {
            const char *p = s + 1;
            if (end - p >= 4 && memcmp(p, "pid ", 4) == 0) {
                p += 4;
                while (p < end && *p == ' ')
                    p++;
                Py_ssize_t digits = read_number(p, end, 19, &tid);
                if (digits && end - (p + digits) >= 2 && p[digits] == ']'
                        && p[digits + 1] == ' ') {
                    *rest = p + digits + 2;
                    return find_thread(self, tid);
                }
            }
        } else if (is_digit(s[0])) {
            Py_ssize_t digits = read_number(s, end, 7, &tid);
            if (digits && s + digits < end && s[digits] == ' ') {
                ThreadSlot *slot = find_thread(self, tid);
                if (slot != NULL) {
                    const char *p = s + digits;
                    while (p < end && *p == ' ')
                        p++;
                    *rest = p;
                    return slot;
                }
            }
        }
    }
    if (self->unprefixed != NULL) {
        *rest = s;
        return self->unprefixed;
    }
    return NULL;
}

#define UNFINISHED " <unfinished ...>"
#define UNFINISHED_LEN 17

/* Steps over one line [s, end) if it is irrelevant; 0 when the scan stops at it.
 * begin/index: where the line is, for a first half left pending. */
static int step(Scanner *self, const char *s, const char *end, Py_ssize_t begin,
                Py_ssize_t index) {
    Py_ssize_t length = end - s;
    if (length == 0)
        return 0;
    const char *p;
    ThreadSlot *thread = line_thread(self, s, end, &p);
    if (thread == NULL || thread->busy)
        return 0;
    int time_of_day = 0;
    if (self->steady)
        p += stamp_length(p, end, &time_of_day);
    int unfinished = ends_with(s, length, UNFINISHED, UNFINISHED_LEN);
    if (!unfinished && ends_with(s, length, "...>", 4))
        return 0;
    if (end - p >= 5 && memcmp(p, "<... ", 5) == 0) {
        /* a second half: only of the first half this scan stepped over */
        if (thread->pending == PEND_NONE || unfinished)
            return 0;
        const char *q = p + 5;
        if (end - q < thread->name_len + 9 || memcmp(q, thread->name, (size_t)thread->name_len)
                || memcmp(q + thread->name_len, " resumed>", 9))
            return 0;
        if (thread->pending == PEND_IOCTL) {
            const char *after = q + thread->name_len + 9;
            if (after >= end || (*after != ',' && *after != ')')
                    || contains(after, end - after, "<unfinished ...>", 16))
                return 0;
        }
        thread->pending = PEND_NONE;
        return 1;
    }
    if (thread->pending != PEND_NONE || p >= end || !is_name_start(*p))
        return 0;
    const char *name = p;
    while (p < end && is_name_char(*p))
        p++;
    if (p >= end || *p != '(')
        return 0;
    Py_ssize_t name_len = p - name;
    const char *args = p + 1;
    int code = name_code(self, name, name_len);
    int pending = PEND_NONE;
    switch (code) {
    case 0:   /* a call VFIO never makes */
        pending = PEND_QUIET;
        break;
    case NAME_POLL:
    case NAME_POLL_SET:
        if (contains(s, length, "_mig", 4))
            return 0;
        if (self->data_open && (code != NAME_POLL_SET || !poll_set_is_quiet(self, args, end)))
            return 0;
        pending = PEND_QUIET;
        break;
    case NAME_READ:
        if (unfinished || !other_fd_at(self, args, end))
            return 0;
        break;
    case NAME_WRITE:
        if (unfinished || !other_fd_at(self, args, end) || contains(s, length, "vfio", 4)
                || contains(s, length, "\\x", 2))
            return 0;
        break;
    case NAME_IOCTL: {
        Py_ssize_t digits = other_fd_at(self, args, end);
        if (!digits)
            return 0;
        const char *from = args + digits;
        const char *comma = NULL;
        for (const char *c = from; c + 1 < end; c++) {
            if (c[0] == ',' && c[1] == ' ') {
                comma = c;
                break;
            }
        }
        if (comma != NULL) {
            const char *request = comma + 2;
            for (Py_ssize_t i = 0; i < self->n_prefixes; i++) {
                const Prefix *prefix = &self->prefixes[i];
                if (end - request >= prefix->len
                        && memcmp(request, prefix->text, (size_t)prefix->len) == 0)
                    return 0;
            }
        }
        if (unfinished) {
            /* decided on the joined call: the request must be in this half, and a
             * time-of-day stamp on it is one the clock reads */
            if (comma == NULL || comma + 2 > end - UNFINISHED_LEN || time_of_day)
                return 0;
            pending = PEND_IOCTL;
        }
        break;
    }
    case NAME_RECVMSG:
        if (unfinished || contains(s, length, "SCM_RIGHTS", 10))
            return 0;
        break;
    case NAME_EPOLL_WAIT: {
        if (unfinished)
            return 0;
        const char *q = args;
        int negative = q < end && *q == '-';
        if (negative)
            q++;
        long long fd;
        Py_ssize_t digits = read_number(q, end, 10, &fd);
        if (digits == 0 || q[0] == '0')
            return 0;
        char next = q + digits < end ? q[digits] : '\n';
        if (next == 'x' || next == 'X' || (!negative && is_epoll(self, fd)))
            return 0;
        break;
    }
    default:
        return 0;
    }
    if (unfinished) {
        if (pending == PEND_NONE)
            return 0;
        thread->pending = pending;
        thread->name = name;
        thread->name_len = name_len;
        thread->begin = begin;
        thread->index = index;
    }
    return 1;
}

static PyObject *Scanner_scan(Scanner *self, PyObject *args) {
    PyObject *block, *busy;
    Py_ssize_t pos, end;
    if (!PyArg_ParseTuple(args, "UnnO", &block, &pos, &end, &busy))
        return NULL;
    if (!PyUnicode_IS_ASCII(block)) {
        PyErr_SetString(PyExc_ValueError, "the block is not ASCII text");
        return NULL;
    }
    const char *text = (const char *)PyUnicode_1BYTE_DATA(block);
    Py_ssize_t size = PyUnicode_GET_LENGTH(block);
    if (pos < 0 || end >= size || pos > end || text[pos] != '\n' || text[end] != '\n') {
        PyErr_SetString(PyExc_ValueError, "pos and end must be newlines of the block");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < self->n_threads; i++) {
        self->threads[i].busy = 0;
        self->threads[i].pending = PEND_NONE;
    }
    PyObject *iter = PyObject_GetIter(busy);
    if (iter == NULL)
        return NULL;
    PyObject *item;
    while ((item = PyIter_Next(iter)) != NULL) {
        long long tid = PyLong_AsLongLong(item);
        Py_DECREF(item);
        if (tid == -1 && PyErr_Occurred()) {
            Py_DECREF(iter);
            return NULL;
        }
        ThreadSlot *slot = find_thread(self, tid);
        if (slot != NULL)
            slot->busy = 1;
    }
    Py_DECREF(iter);
    if (PyErr_Occurred())
        return NULL;

    Py_ssize_t at = pos, lines = 0;
    while (at < end) {
        const char *line = text + at + 1;
        const char *stop = memchr(line, '\n', (size_t)(end - at));
        if (!step(self, line, stop, at, lines))
            break;
        lines++;
        at = stop - text;
    }

    Py_ssize_t n_pending = 0;
    for (Py_ssize_t i = 0; i < self->n_threads; i++)
        if (self->threads[i].pending != PEND_NONE)
            n_pending++;
    PyObject *pending = PyTuple_New(n_pending);
    if (pending == NULL)
        return NULL;
    Py_ssize_t filled = 0;
    for (Py_ssize_t i = 0; i < self->n_threads; i++) {
        ThreadSlot *slot = &self->threads[i];
        if (slot->pending == PEND_NONE)
            continue;
        PyObject *pair = Py_BuildValue("(nn)", slot->begin, slot->index);
        if (pair == NULL) {
            Py_DECREF(pending);
            return NULL;
        }
        /* insertion into text order (few threads are pending at a stop) */
        Py_ssize_t j = filled++;
        while (j > 0) {
            PyObject *before = PyTuple_GET_ITEM(pending, j - 1);
            if (PyLong_AsSsize_t(PyTuple_GET_ITEM(before, 0)) < slot->begin)
                break;
            PyTuple_SET_ITEM(pending, j, before);
            j--;
        }
        PyTuple_SET_ITEM(pending, j, pair);
        slot->pending = PEND_NONE;
    }
    return Py_BuildValue("(nnN)", at, lines, pending);
}

/* The UTF-8 text of an ASCII str kept alive in self->keep. */
static const char *kept_text(Scanner *self, PyObject *object, Py_ssize_t *length) {
    if (!PyUnicode_Check(object) || !PyUnicode_IS_ASCII(object)) {
        PyErr_SetString(PyExc_TypeError, "names, tokens and prefixes must be ASCII str");
        return NULL;
    }
    if (PyList_Append(self->keep, object) < 0)
        return NULL;
    *length = PyUnicode_GET_LENGTH(object);
    return (const char *)PyUnicode_1BYTE_DATA(object);
}

static int cmp_thread(const void *a, const void *b) {
    long long x = ((const ThreadSlot *)a)->tid, y = ((const ThreadSlot *)b)->tid;
    return x < y ? -1 : x > y;
}

static int cmp_long(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int cmp_other(const void *a, const void *b) {
    long long x = ((const OtherFd *)a)->fd, y = ((const OtherFd *)b)->fd;
    return x < y ? -1 : x > y;
}

static int cmp_name(const void *a, const void *b) {
    const NameCode *x = a, *y = b;
    Py_ssize_t common = x->len < y->len ? x->len : y->len;
    int order = memcmp(x->text, y->text, (size_t)common);
    return order ? order : (x->len < y->len ? -1 : x->len > y->len);
}

static void *allocate(Py_ssize_t n, size_t size) {
    void *memory = PyMem_Calloc(n > 0 ? (size_t)n : 1, size);
    if (memory == NULL)
        PyErr_NoMemory();
    return memory;
}

static int Scanner_init(Scanner *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"threads", "others", "epolls", "known", "names", "prefixes",
                               "steady", "data_open", "pid_column", NULL};
    PyObject *threads, *others, *epolls, *known, *names, *prefixes;
    int steady, data_open, pid_column;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOOppp", keywords, &threads, &others,
                                     &epolls, &known, &names, &prefixes, &steady, &data_open,
                                     &pid_column))
        return -1;
    if (self->keep != NULL)
        return 0;   /* initialised once */
    self->keep = PyList_New(0);
    if (self->keep == NULL)
        return -1;
    self->steady = steady;
    self->data_open = data_open;
    self->pid_column = pid_column;

    PyObject *seq = PySequence_Fast(threads, "threads: a sequence of thread ids (-1: none)");
    if (seq == NULL)
        return -1;
    self->n_threads = PySequence_Fast_GET_SIZE(seq);
    self->threads = allocate(self->n_threads, sizeof(ThreadSlot));
    if (self->threads == NULL) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->n_threads; i++) {
        self->threads[i].tid = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (self->threads[i].tid == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    qsort(self->threads, (size_t)self->n_threads, sizeof(ThreadSlot), cmp_thread);
    self->unprefixed = find_thread(self, -1);

    seq = PySequence_Fast(others, "others: a sequence of (fd, token or None)");
    if (seq == NULL)
        return -1;
    self->n_others = PySequence_Fast_GET_SIZE(seq);
    self->others = allocate(self->n_others, sizeof(OtherFd));
    if (self->others == NULL) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->n_others; i++) {
        PyObject *fd, *token;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "OO", &fd, &token)) {
            Py_DECREF(seq);
            return -1;
        }
        self->others[i].fd = PyLong_AsLongLong(fd);
        if (self->others[i].fd == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        if (token != Py_None) {
            self->others[i].token = kept_text(self, token, &self->others[i].token_len);
            if (self->others[i].token == NULL) {
                Py_DECREF(seq);
                return -1;
            }
        }
    }
    Py_DECREF(seq);
    qsort(self->others, (size_t)self->n_others, sizeof(OtherFd), cmp_other);

    seq = PySequence_Fast(epolls, "epolls: a sequence of fds");
    if (seq == NULL)
        return -1;
    self->n_epolls = PySequence_Fast_GET_SIZE(seq);
    self->epolls = allocate(self->n_epolls, sizeof(long long));
    if (self->epolls == NULL) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->n_epolls; i++) {
        self->epolls[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (self->epolls[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);

    seq = PySequence_Fast(known, "known: a sequence of fds");
    if (seq == NULL)
        return -1;
    self->n_known = PySequence_Fast_GET_SIZE(seq);
    self->known = allocate(self->n_known, sizeof(long long));
    if (self->known == NULL) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->n_known; i++) {
        self->known[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (self->known[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    qsort(self->known, (size_t)self->n_known, sizeof(long long), cmp_long);

    seq = PySequence_Fast(names, "names: a sequence of (name, code)");
    if (seq == NULL)
        return -1;
    self->n_names = PySequence_Fast_GET_SIZE(seq);
    self->names = allocate(self->n_names, sizeof(NameCode));
    if (self->names == NULL) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->n_names; i++) {
        PyObject *name;
        int code;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "Oi", &name, &code)) {
            Py_DECREF(seq);
            return -1;
        }
        self->names[i].text = kept_text(self, name, &self->names[i].len);
        self->names[i].code = code;
        if (self->names[i].text == NULL) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    qsort(self->names, (size_t)self->n_names, sizeof(NameCode), cmp_name);

    seq = PySequence_Fast(prefixes, "prefixes: a sequence of str");
    if (seq == NULL)
        return -1;
    self->n_prefixes = PySequence_Fast_GET_SIZE(seq);
    self->prefixes = allocate(self->n_prefixes, sizeof(Prefix));
    if (self->prefixes == NULL) {
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < self->n_prefixes; i++) {
        self->prefixes[i].text = kept_text(self, PySequence_Fast_GET_ITEM(seq, i),
                                           &self->prefixes[i].len);
        if (self->prefixes[i].text == NULL) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static void Scanner_dealloc(Scanner *self) {
    PyMem_Free(self->threads);
    PyMem_Free(self->others);
    PyMem_Free(self->epolls);
    PyMem_Free(self->known);
    PyMem_Free(self->names);
    PyMem_Free(self->prefixes);
    Py_XDECREF(self->keep);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)Scanner_scan, METH_VARARGS,
     "scan(block, pos, end, busy) -> (stop, lines, pending): step over irrelevant lines"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vfio_migcheck.traces.strace._linescan.Scanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The irrelevant-line decisions of one reader state (see linescan.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_linescan",
    .m_doc = "Skipping the irrelevant lines of a strace block in C (see linescan.py).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__linescan(void) {
    if (PyType_Ready(&ScannerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "NAME_LOUD", NAME_LOUD) < 0
            || PyModule_AddIntConstant(m, "NAME_READ", NAME_READ) < 0
            || PyModule_AddIntConstant(m, "NAME_WRITE", NAME_WRITE) < 0
            || PyModule_AddIntConstant(m, "NAME_IOCTL", NAME_IOCTL) < 0
            || PyModule_AddIntConstant(m, "NAME_RECVMSG", NAME_RECVMSG) < 0
            || PyModule_AddIntConstant(m, "NAME_EPOLL_WAIT", NAME_EPOLL_WAIT) < 0
            || PyModule_AddIntConstant(m, "NAME_POLL", NAME_POLL) < 0
            || PyModule_AddIntConstant(m, "NAME_POLL_SET", NAME_POLL_SET) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
