/*
 * vmc-run: execute a vfio-migcheck scenario against real VFIO devices and print the canonical
 * trace of what the kernel really did.
 *
 * Usage: vmc-run SCENARIO_FILE
 *
 * A scenario is a canonical trace (docs/canonical-format.md) whose results are "?"
 * (docs/conformance.md lists the statements the runner knows).  Each statement becomes
 * exactly one system call on a device fd or a data fd; the runner prints the same statement
 * with "= result" and the reply keys filled in, keeping any trailing "# comment".  Device
 * declarations create a fresh mtty mdev (mtty keeps its migration state across reopen) and
 * open it through the group/container API or through iommufd + the vfio device cdev;
 * "NAME close" closes the device fd, and declaring NAME again reopens the same mdev.
 *
 * Data fds are named in scenarios by the number the model predicts ("= ? data_fd=6"); the
 * runner maps that number to the real fd the kernel returned and prints real numbers.
 * Directives for the runner ride in a trailing "# run: key=value ..." comment, so scenarios
 * stay canonical: a write takes its bytes from "src=saved" (the bytes read from the saving fd
 * last closed with "# run: keep=stream", continued where the previous write on this fd
 * stopped), "src=garbage" (0xa5 bytes) or "src=zero"; "len=rest" (with "write ?") writes
 * what is left of the saved stream.  Bytes read are shown in the comment as "data=HEX".
 *
 * The whole output is buffered and written once at exit, so the runner's own syscalls stay
 * out of the way of the calls under test in an strace capture.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#define MAX_DEVICES 4
#define MAX_FDS 64
#define MAX_TOKENS 16
#define STREAM_MAX 65536
#define IO_MAX 65536
#define MDEV_TYPE_DIR "/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2"

static const char *state_names[] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
	"PRE_COPY_P2P",
};
#define NR_STATE_NAMES (sizeof(state_names) / sizeof(state_names[0]))

struct device {
	char name[32];
	char uuid[40];
	int api_cdev;
	int fd;
	int group_fd;
};

/* One data-fd session: the scenario's number, the real fd, the bytes it gave or took. */
struct session {
	int used;
	int scen_fd;
	int real_fd;
	int closed;
	size_t read_len;
	unsigned char *read_buf;	/* bytes read from it (saving) */
	size_t write_pos;		/* how far into the saved stream writes got (resuming) */
};

static struct device devices[MAX_DEVICES];
static int nr_devices;
static struct session sessions[MAX_FDS];
static int container_fd = -1;	/* /dev/vfio/vfio (group API) */
static int iommufd = -1;	/* /dev/iommu (cdev API) */
static uint32_t ioas_id;
static int iommu_set;
static unsigned char saved[STREAM_MAX];
static size_t saved_len;
static int have_saved;
static unsigned char io_buf[IO_MAX];
static const char *scenario_path;
static int line_no;

static void fatal(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "vmc-run: %s:%d: ", scenario_path, line_no);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);
	static char buf[16];

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* Print " = RET" or " = -1 ERRNO" after the echoed statement. */
static void result(long ret, int err)
{
	if (ret < 0)
		printf(" = -1 %s", errname(err));
	else
		printf(" = %ld", ret);
}

static void print_state(uint32_t value)
{
	if (value < NR_STATE_NAMES)
		fputs(state_names[value], stdout);
	else
		printf("%u", value);
}

/* ---------------------------------------------------------------- sysfs helpers */

static void write_sysfs(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		fatal("open %s: %s", path, strerror(errno));
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fatal("write %s: %s", path, strerror(errno));
	close(fd);
}

static void make_uuid(char *out, size_t size, int index)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);	/* vDSO: no syscall in the capture */
	snprintf(out, size, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)ts.tv_sec,
		 (unsigned)(ts.tv_nsec & 0xffff), (unsigned)getpid() & 0xfff, index & 0xfff,
		 (unsigned long long)ts.tv_nsec);
}

/* ---------------------------------------------------------------- device opening */

static int open_group_api(struct device *d, char *path, size_t size)
{
	char link[256], p[256];
	ssize_t n;
	const char *slash;
	struct vfio_group_status st = { .argsz = sizeof(st) };

	snprintf(p, sizeof(p), "/sys/bus/mdev/devices/%s/iommu_group", d->uuid);
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		fatal("readlink %s: %s", p, strerror(errno));
	link[n] = 0;
	slash = strrchr(link, '/');
	snprintf(path, size, "/dev/vfio/%s", slash ? slash + 1 : link);
	if (container_fd < 0) {
		container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
		if (container_fd < 0)
			fatal("open /dev/vfio/vfio: %s", strerror(errno));
	}
	if (d->group_fd >= 0)
		goto get_fd;	/* a reopen: the group stays in the container */
	d->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->group_fd < 0)
		fatal("open %s: %s", path, strerror(errno));
	if (ioctl(d->group_fd, VFIO_GROUP_GET_STATUS, &st) || !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		fatal("group %s not viable", path);
	if (ioctl(d->group_fd, VFIO_GROUP_SET_CONTAINER, &container_fd))
		fatal("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
	if (!iommu_set) {
		if (ioctl(container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
			fatal("VFIO_SET_IOMMU: %s", strerror(errno));
		iommu_set = 1;
	}
get_fd:
	d->fd = ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD, d->uuid);
	if (d->fd < 0)
		fatal("VFIO_GROUP_GET_DEVICE_FD: %s", strerror(errno));
	return d->fd;
}

static int open_cdev_api(struct device *d, char *path, size_t size)
{
	char dir[256], name[256] = "";
	struct dirent *de;
	DIR *dh;
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .flags = 0 };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	snprintf(dir, sizeof(dir), "/sys/bus/mdev/devices/%s/vfio-dev", d->uuid);
	dh = opendir(dir);
	if (!dh)
		fatal("opendir %s: %s (kernel without VFIO_DEVICE_CDEV?)", dir, strerror(errno));
	while ((de = readdir(dh)))
		if (!strncmp(de->d_name, "vfio", 4))
			snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(dh);
	if (!name[0])
		fatal("no vfio cdev under %s", dir);
	snprintf(path, size, "/dev/vfio/devices/%s", name);
	if (iommufd < 0) {
		iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		if (iommufd < 0)
			fatal("open /dev/iommu: %s", strerror(errno));
	}
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		fatal("open %s: %s", path, strerror(errno));
	bind.iommufd = iommufd;
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		fatal("VFIO_DEVICE_BIND_IOMMUFD: %s", strerror(errno));
	if (!iommu_set) {
		if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
			fatal("IOMMU_IOAS_ALLOC: %s", strerror(errno));
		ioas_id = alloc.out_ioas_id;
		iommu_set = 1;
	}
	at.pt_id = ioas_id;
	if (ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
		fatal("VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", strerror(errno));
	return d->fd;
}

static struct device *find_device(const char *name);

/*
 * "device NAME driver=mtty api=group|cdev": a fresh mdev, opened through the chosen path.
 * Declaring a device again after its "NAME close" reopens the same mdev (mtty keeps its
 * migration state across close and reopen).
 */
static void declare_device(char **tok, int n)
{
	struct device *d;
	char path[600], create[300];
	const char *api = "group";
	int reopen = 0;

	if (n < 2)
		fatal("device declaration without a name");
	d = find_device(tok[1]);
	if (d) {
		if (d->fd >= 0)
			fatal("device %s is declared again while it is open", tok[1]);
		reopen = 1;
	} else if (nr_devices == MAX_DEVICES) {
		fatal("too many devices (at most %d)", MAX_DEVICES);
	}
	for (int i = 2; i < n; i++) {
		if (!strncmp(tok[i], "api=", 4))
			api = tok[i] + 4;
		else if (!strcmp(tok[i], "driver=mtty") || !strncmp(tok[i], "flags=", 6) ||
			 !strncmp(tok[i], "state=", 6) || !strncmp(tok[i], "fd=", 3))
			continue;	/* documentation keys the model uses */
		else
			fatal("unknown device key '%s' (api=, driver=mtty, flags=, state=)", tok[i]);
	}
	if (strcmp(api, "group") && strcmp(api, "cdev"))
		fatal("api must be group or cdev, not '%s'", api);
	if (reopen) {
		if (d->api_cdev != !strcmp(api, "cdev"))
			fatal("device %s is reopened through another api", d->name);
		if (d->api_cdev)
			open_cdev_api(d, path, sizeof(path));
		else
			open_group_api(d, path, sizeof(path));
		printf("device %s driver=mtty api=%s fd=%d path=%s  # mdev %s reopened\n", d->name,
		       api, d->fd, path, d->uuid);
		return;
	}
	d = &devices[nr_devices];
	snprintf(d->name, sizeof(d->name), "%s", tok[1]);
	d->api_cdev = !strcmp(api, "cdev");
	d->group_fd = -1;
	make_uuid(d->uuid, sizeof(d->uuid), nr_devices);
	snprintf(create, sizeof(create), "%s/create", MDEV_TYPE_DIR);
	write_sysfs(create, d->uuid);
	nr_devices++;
	if (d->api_cdev)
		open_cdev_api(d, path, sizeof(path));
	else
		open_group_api(d, path, sizeof(path));
	printf("device %s driver=mtty api=%s fd=%d path=%s  # mdev %s\n", d->name, api, d->fd,
	       path, d->uuid);
}

static struct device *find_device(const char *name)
{
	for (int i = 0; i < nr_devices; i++)
		if (!strcmp(devices[i].name, name))
			return &devices[i];
	return NULL;
}

/* ---------------------------------------------------------------- fd mapping */

static struct session *session_of(int scen_fd)
{
	for (int i = MAX_FDS - 1; i >= 0; i--)
		if (sessions[i].used && sessions[i].scen_fd == scen_fd)
			return &sessions[i];
	return NULL;
}

static void add_session(int scen_fd, int real_fd)
{
	for (int i = 0; i < MAX_FDS; i++) {
		if (sessions[i].used && sessions[i].scen_fd == scen_fd)
			sessions[i].used = 0;	/* the scenario reuses the number: forget the old */
	}
	for (int i = 0; i < MAX_FDS; i++) {
		if (!sessions[i].used) {
			free(sessions[i].read_buf);
			memset(&sessions[i], 0, sizeof(sessions[i]));
			sessions[i].used = 1;
			sessions[i].scen_fd = scen_fd;
			sessions[i].real_fd = real_fd;
			return;
		}
	}
	fatal("too many data fds");
}

/* A scenario fd the model never saw created is used as is: it tests dead or bogus fds. */
static int real_fd_of(int scen_fd, struct session **out)
{
	struct session *s = session_of(scen_fd);

	*out = s;
	return s ? s->real_fd : scen_fd;
}

/* ---------------------------------------------------------------- device statements */

struct feature_buf {
	struct vfio_device_feature hdr;
	uint64_t payload[2];
};

static int feature(int fd, uint32_t flags, void *payload, size_t len, int *err)
{
	struct feature_buf b;
	int r;

	memset(&b, 0, sizeof(b));
	b.hdr.argsz = sizeof(b.hdr) + len;
	b.hdr.flags = flags;
	memcpy(b.payload, payload, len);
	r = ioctl(fd, VFIO_DEVICE_FEATURE, &b);
	*err = r < 0 ? errno : 0;
	memcpy(payload, b.payload, len);
	return r;
}

static uint32_t parse_state_arg(const char *s)
{
	char *end;
	unsigned long v;

	for (size_t i = 0; i < NR_STATE_NAMES; i++)
		if (!strcmp(s, state_names[i]))
			return i;
	v = strtoul(s, &end, 0);
	if (*end || end == s)
		fatal("unknown state '%s'", s);
	return (uint32_t)v;
}

static int parse_int(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*end || end == s)
		fatal("%s must be a number, not '%s'", what, s);
	return (int)v;
}

/* the model's number for a new data fd: "data_fd=N" after "= ?" */
static int predicted_fd(char **res, int nres)
{
	for (int i = 0; i < nres; i++)
		if (!strncmp(res[i], "data_fd=", 8))
			return parse_int(res[i] + 8, "data_fd");
	return -1;
}

/*
 * Output of one statement: the call part is echoed (data fds by their real number, a "?"
 * write length by the length written), then the result, the reply keys and the comment.
 */
static char comment_extra[2 * IO_MAX + 64];

static void echo_call(char **tok, int n, int replace_at, const char *replacement)
{
	for (int i = 0; i < n; i++)
		printf(i ? " %s" : "%s", i == replace_at ? replacement : tok[i]);
}

static void device_statement(struct device *d, char **tok, int n, char **res, int nres)
{
	int err = 0, r;
	const char *verb = n > 1 ? tok[1] : "";
	const char *what = n > 2 ? tok[2] : "";

	echo_call(tok, n, -1, NULL);
	if (!strcmp(verb, "GET") && !strcmp(what, "MIGRATION")) {
		struct vfio_device_feature_migration m = { 0 };

		r = feature(d->fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &m,
			    sizeof(m), &err);
		result(r, err);
		if (r == 0)
			printf(" flags=%#llx", (unsigned long long)m.flags);
	} else if (!strcmp(verb, "PROBE") && !strcmp(what, "STATE")) {
		struct vfio_device_feature_mig_state st = { 0 };
		const char *ops = n > 3 ? tok[3] : "GET|SET";
		uint32_t flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;

		if (strstr(ops, "GET"))
			flags |= VFIO_DEVICE_FEATURE_GET;
		if (strstr(ops, "SET"))
			flags |= VFIO_DEVICE_FEATURE_SET;
		r = feature(d->fd, flags, &st, sizeof(st), &err);
		result(r, err);
	} else if (!strcmp(verb, "GET") && !strcmp(what, "STATE")) {
		struct vfio_device_feature_mig_state st = { .data_fd = -1 };

		r = feature(d->fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			    &st, sizeof(st), &err);
		result(r, err);
		if (r == 0) {
			fputs(" state=", stdout);
			print_state(st.device_state);
			printf(" data_fd=%d", st.data_fd);
		}
	} else if (!strcmp(verb, "SET") && !strcmp(what, "STATE") && n > 3) {
		struct vfio_device_feature_mig_state st = { .data_fd = -1 };

		st.device_state = parse_state_arg(tok[3]);
		r = feature(d->fd, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			    &st, sizeof(st), &err);
		result(r, err);
		if (r == 0) {
			printf(" data_fd=%d", st.data_fd);
			if (st.data_fd >= 0) {
				int want = predicted_fd(res, nres);

				add_session(want >= 0 ? want : st.data_fd, st.data_fd);
			}
		}
	} else if (!strcmp(verb, "GET") && (!strcmp(what, "DATA_SIZE") ||
					      !strcmp(what, "MIG_DATA_SIZE"))) {
		struct vfio_device_feature_mig_data_size ds = { 0 };

		r = feature(d->fd, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
			    &ds, sizeof(ds), &err);
		result(r, err);
		if (r == 0)
			printf(" size=%llu", (unsigned long long)ds.stop_copy_length);
	} else if (!strcmp(verb, "RESET")) {
		r = ioctl(d->fd, VFIO_DEVICE_RESET);
		result(r, r < 0 ? errno : 0);
	} else if (!strcmp(verb, "close")) {
		/* the last close of the device fd runs the driver's close_device */
		r = close(d->fd);
		result(r, r < 0 ? errno : 0);
		d->fd = -1;
	} else {
		fatal("unknown device statement '%s %s'", verb, what);
	}
}

/* ---------------------------------------------------------------- data-fd statements */

static const char *key_value(char **tok, int n, const char *key)
{
	size_t kl = strlen(key);

	for (int i = 0; i < n; i++)
		if (!strncmp(tok[i], key, kl) && tok[i][kl] == '=')
			return tok[i] + kl + 1;
	return NULL;
}

/* the byte count of a read or write: a number, or "?" with the directive len=rest */
static size_t io_length(const char *word, char **dir, int ndir, struct session *sess)
{
	const char *len = key_value(dir, ndir, "len");
	size_t n;

	if (!strcmp(word, "?")) {
		size_t pos = sess ? sess->write_pos : 0;

		if (!len || strcmp(len, "rest"))
			fatal("a '?' length needs the directive len=rest");
		n = saved_len > pos ? saved_len - pos : 0;
	} else {
		n = (size_t)parse_int(word, "length");
	}
	if (n > IO_MAX)
		fatal("length %zu is above %d", n, IO_MAX);
	return n;
}

/* "# run: keep=stream" on a close: what was read from the fd becomes the saved stream. */
static void remember_stream(struct session *s)
{
	if (!s || !s->read_len)
		fatal("keep=stream on an fd nothing was read from");
	memcpy(saved, s->read_buf, s->read_len);
	saved_len = s->read_len;
	have_saved = 1;
}

static void record_read(struct session *s, size_t n)
{
	size_t used = strlen(comment_extra);

	snprintf(comment_extra + used, sizeof(comment_extra) - used, "data=");
	for (size_t i = 0; i < n; i++) {
		used = strlen(comment_extra);
		snprintf(comment_extra + used, sizeof(comment_extra) - used, "%02x", io_buf[i]);
	}
	if (s && s->read_len + n <= STREAM_MAX) {
		s->read_buf = realloc(s->read_buf, s->read_len + n);
		if (!s->read_buf)
			fatal("out of memory");
		memcpy(s->read_buf + s->read_len, io_buf, n);
		s->read_len += n;
	}
}

static void fd_statement(char **tok, int n, char **dir, int ndir)
{
	struct session *s;
	int scen_fd, fd;
	long r;
	int err;
	const char *verb;
	char real[16], length[24];

	if (n < 3)
		fatal("'fd N VERB ...' expected");
	scen_fd = parse_int(tok[1], "fd number");
	fd = real_fd_of(scen_fd, &s);
	snprintf(real, sizeof(real), "%d", fd);
	verb = tok[2];

	if (!strcmp(verb, "read") || !strcmp(verb, "pread64")) {
		size_t len;

		if (n < 4)
			fatal("%s needs a length", verb);
		len = io_length(tok[3], dir, ndir, s);
		echo_call(tok, n, 1, real);
		if (!strcmp(verb, "read"))
			r = read(fd, io_buf, len);
		else
			r = pread(fd, io_buf, len, 0);
		err = r < 0 ? errno : 0;
		result(r, err);
		if (r > 0)
			record_read(s, (size_t)r);
	} else if (!strcmp(verb, "write")) {
		const char *src = key_value(dir, ndir, "src");
		size_t len;

		if (n < 4)
			fatal("write needs a length");
		if (!src)
			fatal("write needs the directive src=saved|garbage|zero");
		len = io_length(tok[3], dir, ndir, s);
		if (!strcmp(src, "saved")) {
			size_t pos = s ? s->write_pos : 0;

			if (!have_saved)
				fatal("src=saved but no stream was kept (keep=stream) yet");
			if (pos + len > saved_len)
				fatal("src=saved: %zu bytes asked at %zu, stream has %zu", len, pos,
				      saved_len);
			memcpy(io_buf, saved + pos, len);
		} else if (!strcmp(src, "garbage")) {
			memset(io_buf, 0xa5, len);
		} else if (!strcmp(src, "zero")) {
			memset(io_buf, 0, len);
		} else {
			fatal("unknown src=%s (saved, garbage, zero)", src);
		}
		snprintf(length, sizeof(length), "%zu", len);
		/* echo with the real fd number and the length really asked for */
		for (int i = 0; i < n; i++)
			printf(i ? " %s" : "%s", i == 1 ? real : i == 3 ? length : tok[i]);
		r = write(fd, io_buf, len);
		err = r < 0 ? errno : 0;
		result(r, err);
		if (r > 0 && s && !strcmp(src, "saved"))
			s->write_pos += (size_t)r;
	} else if (!strcmp(verb, "precopy_info")) {
		struct vfio_precopy_info info = { .argsz = sizeof(info) };
		const char *argsz = key_value(tok, n, "argsz");

		if (argsz)
			info.argsz = (uint32_t)parse_int(argsz, "argsz");
		echo_call(tok, n, 1, real);
		r = ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info);
		err = r < 0 ? errno : 0;
		result(r, err);
		if (r == 0)
			printf(" initial=%llu dirty=%llu", (unsigned long long)info.initial_bytes,
			       (unsigned long long)info.dirty_bytes);
	} else if (!strcmp(verb, "poll")) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

		echo_call(tok, n, 1, real);
		r = poll(&p, 1, 0);
		err = r < 0 ? errno : 0;
		result(r, err);
		if (r >= 0) {
			printf(" ready=%s", p.revents & (POLLIN | POLLOUT) ? "yes" : "no");
			snprintf(comment_extra, sizeof(comment_extra), "revents=%#x",
				 (unsigned)p.revents);
		}
	} else if (!strcmp(verb, "lseek")) {
		echo_call(tok, n, 1, real);
		r = lseek(fd, 0, SEEK_SET);
		result(r, r < 0 ? errno : 0);
	} else if (!strcmp(verb, "close")) {
		const char *keep = key_value(dir, ndir, "keep");

		echo_call(tok, n, 1, real);
		r = close(fd);
		result(r, r < 0 ? errno : 0);
		if (r == 0 && s) {
			s->closed = 1;
			if (keep && !strcmp(keep, "stream"))
				remember_stream(s);
			else if (keep)
				fatal("unknown keep=%s (stream)", keep);
			s->used = 0;
		}
	} else {
		fatal("unknown data-fd statement '%s'", verb);
	}
}

/* ---------------------------------------------------------------- scenario loop */

static int split(char *line, char **tok, int max)
{
	int n = 0;

	for (char *p = strtok(line, " \t"); p && n < max; p = strtok(NULL, " \t"))
		tok[n++] = p;
	return n;
}

static void run_line(char *line)
{
	char copy[1024], note[1024] = "", dcopy[1024], *tok[MAX_TOKENS], *res[MAX_TOKENS];
	char *dir[MAX_TOKENS], *hash;
	int n, nres = 0, eq = -1, ndir = 0;
	size_t len = strlen(line);

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = 0;
	if (!len || line[0] == '#') {
		puts(line);	/* comments and blank lines pass through */
		return;
	}
	if (len >= sizeof(copy))
		fatal("line too long");
	strcpy(copy, line);
	hash = strchr(copy, '#');	/* trailing comment; "# run: ..." holds directives */
	if (hash) {
		*hash = 0;
		snprintf(note, sizeof(note), "%s", hash + 1);
		snprintf(dcopy, sizeof(dcopy), "%s", note);
		ndir = split(dcopy, dir, MAX_TOKENS);
		if (ndir && !strcmp(dir[0], "run:")) {
			for (int i = 1; i < ndir; i++)
				dir[i - 1] = dir[i];
			ndir--;
		} else {
			ndir = 0;
		}
	}
	n = split(copy, tok, MAX_TOKENS);
	if (!n)
		fatal("a comment must start its line with '#'");
	for (int i = 0; i < n; i++)
		if (!strcmp(tok[i], "=")) {
			eq = i;
			break;
		}
	if (!strcmp(tok[0], "device")) {
		declare_device(tok, eq >= 0 ? eq : n);
		return;
	}
	if (eq < 0)
		fatal("statement without '= ?'");
	for (int i = eq + 2; i < n; i++)
		res[nres++] = tok[i];
	comment_extra[0] = 0;
	if (!strcmp(tok[0], "fd")) {
		fd_statement(tok, eq, dir, ndir);
	} else {
		struct device *d = find_device(tok[0]);

		if (!d)
			fatal("'%s' is neither a declared device nor 'fd'", tok[0]);
		device_statement(d, tok, eq, res, nres);
	}
	/* the comment: the scenario's own, then what the runner adds (bytes read, revents) */
	while (note[0] == ' ')
		memmove(note, note + 1, strlen(note));
	if (note[0] || comment_extra[0])
		printf("  #%s%s%s%s", note[0] ? " " : "", note, comment_extra[0] ? " " : "",
		       comment_extra);
	putchar('\n');
}

static void teardown(void)
{
	char path[300];

	int r;

	puts("# teardown: data fds still open and device fds are closed, mdevs removed");
	for (int i = 0; i < MAX_FDS; i++)
		if (sessions[i].used && !sessions[i].closed) {
			r = close(sessions[i].real_fd);
			printf("fd %d close", sessions[i].real_fd);
			result(r, r < 0 ? errno : 0);
			putchar('\n');
		}
	for (int i = 0; i < nr_devices; i++) {
		if (devices[i].fd >= 0) {
			r = close(devices[i].fd);
			printf("%s close", devices[i].name);
			result(r, r < 0 ? errno : 0);
			putchar('\n');
		}
		if (devices[i].group_fd >= 0)
			close(devices[i].group_fd);
	}
	if (container_fd >= 0)
		close(container_fd);
	if (iommufd >= 0)
		close(iommufd);
	for (int i = 0; i < nr_devices; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", devices[i].uuid);
		write_sysfs(path, "1");
	}
}

int main(int argc, char **argv)
{
	static char text[1 << 20];
	static char out_buf[1 << 20];
	char *line, *next;
	ssize_t n, total = 0;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: vmc-run SCENARIO_FILE\n");
		return 2;
	}
	scenario_path = argv[1];
	setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
	fd = open(scenario_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vmc-run: %s: %s\n", scenario_path, strerror(errno));
		return 2;
	}
	while ((n = read(fd, text + total, sizeof(text) - 1 - (size_t)total)) > 0)
		total += n;
	close(fd);
	if (n < 0 || total >= (ssize_t)sizeof(text) - 1) {
		fprintf(stderr, "vmc-run: %s: cannot read (or larger than 1 MiB)\n", scenario_path);
		return 2;
	}
	text[total] = 0;
	for (line = text; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		line_no++;
		run_line(line);
	}
	teardown();
	fflush(stdout);
	return 0;
}
