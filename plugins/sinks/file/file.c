/* Sink "file": objects are files under a local directory. A put writes a temporary file in the
 * target directory, fsyncs it, renames it over the key and fsyncs the directory, so a reader sees
 * the old complete file or the new one, and a crash never leaves a torn file under a key.
 *
 * Conditional puts (fencing): every commit renames under an exclusive flock on a lock file beside
 * the key (".{name}.lock"), which also holds the key's generation counter. A version is the
 * generation plus the file's inode, size and mtime, so a replacement made outside the sink (or
 * a crash between the rename and the counter update) still changes it. Readers take the lock
 * shared while they open the file, so the version they report belongs to the bytes they read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sluice/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct fs_ctx {
    sl_host *h;
    const sl_host_api *api;
    char *root;
    int do_fsync;
    int64_t delay_ms;
} fs_ctx;

struct sl_put {
    int fd;
    char *tmp, *final;
    char *if_match; /* NULL, or the version the current object must have */
    int if_none_match;
};

static const sl_option options[] = {
    SL_OPTION("path", SL_OPT_STRING, SL_OPT_REQUIRED, NULL,
              "directory the objects are written into"),
    SL_OPTION("fsync", SL_OPT_BOOL, 0, "true",
              "fsync files and directories (turn off only for tests)"),
    SL_OPTION_RANGE("delay_ms", SL_OPT_INT, 0, "0",
                    "test hook: wait this long in every put_commit (a slow store)", 0, 600000),
    SL_OPTIONS_END,
};

static int fs_create(sl_host *h, const sl_host_api *api, void **out)
{
    fs_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->h = h;
    c->api = api;
    c->root = strdup(api->opt_string(h, "path"));
    c->do_fsync = api->opt_bool(h, "fsync", 1);
    c->delay_ms = api->opt_int(h, "delay_ms", 0);
    if (!c->root) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void fs_destroy(void *ctx)
{
    fs_ctx *c = ctx;
    if (!c)
        return;
    free(c->root);
    free(c);
}

/* mkdir -p for the directory part of path. */
static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

/* Temporary files of puts that a crash interrupted: ".<name>.XXXXXX" (mkostemp's 6 chars). */
static int is_stale_tmp(const char *name)
{
    size_t n = strlen(name);
    /* mkostemp's suffix is letters and digits, so a lock file (".{name}.lock") never matches */
    return name[0] == '.' && n > 8 && name[n - 7] == '.' && strcmp(name, "..") != 0 &&
           strchr(name + n - 6, '.') == NULL;
}

static void remove_stale(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode) && depth < 8)
            remove_stale(path, depth + 1);
        else if (S_ISREG(sb.st_mode) && is_stale_tmp(de->d_name))
            unlink(path);
    }
    closedir(d);
}

static int fs_open(void *ctx, const sl_open_args *args)
{
    (void)args;
    fs_ctx *c = ctx;
    size_t n = strlen(c->root) + 2;
    char *p = malloc(n);
    if (!p)
        return -1;
    snprintf(p, n, "%s/", c->root);
    int rc = mkdirs(p);
    free(p);
    if (rc != 0 || access(c->root, W_OK) != 0) {
        c->api->set_error(c->h, "directory %s is not writable: %s", c->root, strerror(errno));
        return -1;
    }
    /* One job owns a directory, so leftovers of its own interrupted puts are safe to remove. */
    remove_stale(c->root, 0);
    return 0;
}

static int key_ok(const char *key)
{
    /* Keys are relative paths without ".." components. */
    if (!*key || key[0] == '/')
        return 0;
    for (const char *p = key; *p; p++)
        if (p[0] == '.' && p[1] == '.' && (p == key || p[-1] == '/') && (p[2] == '/' || !p[2]))
            return 0;
    return 1;
}

static char *join(const fs_ctx *c, const char *key)
{
    size_t n = strlen(c->root) + strlen(key) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", c->root, key);
    return p;
}

static int fsync_dir_of(const char *path)
{
    char *d = strdup(path);
    if (!d)
        return -1;
    char *slash = strrchr(d, '/');
    if (slash)
        *slash = 0;
    int fd = open(slash ? d : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(d);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* ".{name}.lock" beside path (malloc'd). */
static char *lock_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t n = strlen(path) + 8;
    char *l = malloc(n);
    if (l)
        snprintf(l, n, "%.*s.%s.lock", (int)dlen, path, path + dlen);
    return l;
}

/* Opens and flocks the key's lock file. create = 0: an absent lock file is not an error (-2:
 * no sink commit ever happened under this key). Returns the fd, -1 on error (errno set). */
static int lock_key(const char *path, int exclusive, int create)
{
    char *l = lock_path(path);
    if (!l) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(l, (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
    int saved = errno;
    free(l);
    if (fd < 0) {
        errno = saved;
        return !create && errno == ENOENT ? -2 : -1;
    }
    while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
        if (errno != EINTR) {
            saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
    }
    return fd;
}

static uint64_t read_gen(int lfd)
{
    char b[32] = "";
    ssize_t n = lfd >= 0 ? pread(lfd, b, sizeof b - 1, 0) : 0;
    b[n > 0 ? n : 0] = 0;
    return strtoull(b, NULL, 10);
}

static void format_version(char *out, uint64_t gen, const struct stat *sb)
{
    snprintf(out, SL_VERSION_MAX, "g%" PRIu64 "-i%" PRIu64 "-s%lld-m%lld.%09ld", gen,
             (uint64_t)sb->st_ino, (long long)sb->st_size, (long long)sb->st_mtim.tv_sec,
             (long)sb->st_mtim.tv_nsec);
}

static sl_status fs_put_begin(void *ctx, const char *key, const sl_put_opts *o, sl_put **out)
{
    fs_ctx *c = ctx;
    if (!key_ok(key)) {
        c->api->set_error(c->h, "invalid object key \"%s\"", key);
        return SL_ERROR;
    }
    sl_put *p = calloc(1, sizeof *p);
    if (!p)
        return SL_ERROR;
    p->final = join(c, key);
    size_t n = p->final ? strlen(p->final) + 16 : 0;
    p->tmp = n ? malloc(n) : NULL;
    if (!p->final || !p->tmp || mkdirs(p->final) != 0) {
        c->api->set_error(c->h, "cannot create the directory for %s: %s", key, strerror(errno));
        free(p->final);
        free(p->tmp);
        free(p);
        return SL_ERROR;
    }
    /* Temporary name beside the target, so rename stays within one filesystem. */
    char *slash = strrchr(p->final, '/');
    snprintf(p->tmp, n, "%.*s/.%s.XXXXXX", (int)(slash - p->final), p->final, slash + 1);
    p->fd = mkostemp(p->tmp, O_CLOEXEC);
    if (p->fd < 0) {
        c->api->set_error(c->h, "cannot create %s: %s", p->tmp, strerror(errno));
        free(p->final);
        free(p->tmp);
        free(p);
        return errno == ENOSPC ? SL_RETRY : SL_ERROR;
    }
    /* mkostemp makes 0600; objects are for readers (Qlik, other users) like any written file. */
    mode_t um = umask(0);
    umask(um);
    fchmod(p->fd, 0666 & ~um);
    p->if_none_match = o && o->if_none_match;
    if (o && o->if_match && !(p->if_match = strdup(o->if_match))) {
        close(p->fd);
        unlink(p->tmp);
        free(p->final);
        free(p->tmp);
        free(p);
        return SL_ERROR;
    }
    *out = p;
    return SL_OK;
}

static sl_status fs_put_write(void *ctx, sl_put *p, const void *buf, size_t len)
{
    fs_ctx *c = ctx;
    const char *b = buf;
    while (len) {
        ssize_t w = write(p->fd, b, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            c->api->set_error(c->h, "writing %s: %s", p->tmp, strerror(errno));
            return errno == ENOSPC ? SL_RETRY : SL_ERROR;
        }
        b += w;
        len -= (size_t)w;
    }
    return SL_OK;
}

static void put_free(sl_put *p)
{
    free(p->if_match);
    free(p->tmp);
    free(p->final);
    free(p);
}

static void fs_put_abort(void *ctx, sl_put *p)
{
    (void)ctx;
    if (!p)
        return;
    close(p->fd);
    unlink(p->tmp);
    put_free(p);
}

/* Under the key's exclusive lock: does the current object satisfy the put's condition? */
static int condition_holds(const sl_put *p, int lfd)
{
    struct stat sb;
    if (stat(p->final, &sb) != 0)
        return errno == ENOENT ? !p->if_match : 0;
    if (p->if_none_match)
        return 0;
    if (!p->if_match)
        return 1;
    char cur[SL_VERSION_MAX];
    format_version(cur, read_gen(lfd), &sb);
    return strcmp(cur, p->if_match) == 0;
}

static sl_status fs_put_commit(void *ctx, sl_put *p, char *version)
{
    fs_ctx *c = ctx;
    if (version)
        version[0] = 0;
    if (c->delay_ms > 0) {
        struct timespec ts = {(time_t)(c->delay_ms / 1000), (long)(c->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if ((c->do_fsync && fsync(p->fd) != 0) || close(p->fd) != 0) {
        c->api->set_error(c->h, "flushing %s: %s", p->tmp, strerror(errno));
        p->fd = -1;
        unlink(p->tmp);
        put_free(p);
        return SL_RETRY;
    }
    /* Every commit, conditional or not, takes the lock and bumps the generation: otherwise an
     * unconditional replace could slip between another writer's check and rename. */
    int lfd = lock_key(p->final, 1, 1);
    if (lfd < 0) {
        c->api->set_error(c->h, "locking %s: %s", p->final, strerror(errno));
        unlink(p->tmp);
        put_free(p);
        return SL_ERROR;
    }
    if (!condition_holds(p, lfd)) {
        c->api->set_error(c->h, "%s changed since it was read (%s): not replaced", p->final,
                          p->if_none_match ? "it exists" : "another version");
        unlink(p->tmp);
        close(lfd); /* releases the lock */
        put_free(p);
        return SL_CONFLICT;
    }
    if (rename(p->tmp, p->final) != 0) {
        c->api->set_error(c->h, "renaming %s: %s", p->tmp, strerror(errno));
        unlink(p->tmp);
        close(lfd);
        put_free(p);
        return SL_ERROR;
    }
    uint64_t gen = read_gen(lfd) + 1;
    char g[32];
    int gl = snprintf(g, sizeof g, "%" PRIu64 "\n", gen);
    /* A torn or lost counter is harmless: the inode in the version changed with the rename. */
    if (pwrite(lfd, g, (size_t)gl, 0) != gl || ftruncate(lfd, gl) != 0) {
        c->api->log(c->h, SL_LOG_WARN, "updating the generation of %s: %s", p->final,
                    strerror(errno));
    }
    struct stat sb;
    if (version && stat(p->final, &sb) == 0)
        format_version(version, gen, &sb);
    close(lfd);
    if (c->do_fsync && fsync_dir_of(p->final) != 0) {
        c->api->set_error(c->h, "fsync of the directory of %s: %s", p->final, strerror(errno));
        put_free(p);
        return SL_RETRY;
    }
    put_free(p);
    return SL_OK;
}

static sl_status fs_get(void *ctx, const char *key, sl_read_cb cb, void *ud, char *version)
{
    fs_ctx *c = ctx;
    if (version)
        version[0] = 0;
    if (!key_ok(key))
        return SL_NOTFOUND;
    char *path = join(c, key);
    if (!path)
        return SL_ERROR;
    /* Shared lock while opening: the generation read belongs to the inode opened. */
    int lfd = lock_key(path, 0, 0);
    if (lfd == -1 && errno != ENOENT) {
        c->api->set_error(c->h, "locking %s: %s", path, strerror(errno));
        free(path);
        return SL_ERROR;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int saved = errno;
    struct stat sb;
    if (fd >= 0 && version && fstat(fd, &sb) == 0)
        format_version(version, read_gen(lfd), &sb);
    if (lfd >= 0)
        close(lfd);
    if (fd < 0) {
        sl_status st = saved == ENOENT ? SL_NOTFOUND : SL_ERROR;
        if (st == SL_ERROR)
            c->api->set_error(c->h, "opening %s: %s", path, strerror(saved));
        free(path);
        return st;
    }
    char buf[1 << 16];
    sl_status st = SL_OK;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            c->api->set_error(c->h, "reading %s: %s", path, strerror(errno));
            st = SL_ERROR;
            break;
        }
        if (n == 0)
            break;
        st = cb(ud, buf, (size_t)n);
        if (st != SL_OK)
            break;
    }
    close(fd);
    free(path);
    return st;
}

static sl_status walk(fs_ctx *c, const char *rel, const char *prefix, sl_list_cb cb, void *ud)
{
    char *dir = join(c, rel);
    if (!dir)
        return SL_ERROR;
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return SL_OK;
    sl_status st = SL_OK;
    struct dirent *de;
    while (st == SL_OK && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* ".", "..", and our temporary files */
        char key[4096];
        snprintf(key, sizeof key, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        char *full = join(c, key);
        struct stat sb;
        if (!full)
            break;
        int ok = stat(full, &sb) == 0;
        free(full);
        if (!ok)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            st = walk(c, key, prefix, cb, ud);
        } else if (strncmp(key, prefix, strlen(prefix)) == 0) {
            st = cb(ud, key, (uint64_t)sb.st_size);
        }
    }
    closedir(d);
    return st;
}

static sl_status fs_list(void *ctx, const char *prefix, sl_list_cb cb, void *ud)
{
    return walk(ctx, "", prefix ? prefix : "", cb, ud);
}

static sl_status fs_del(void *ctx, const char *key)
{
    fs_ctx *c = ctx;
    if (!key_ok(key))
        return SL_OK;
    char *path = join(c, key);
    if (!path)
        return SL_ERROR;
    int rc = unlink(path);
    sl_status st = (rc == 0 || errno == ENOENT) ? SL_OK : SL_ERROR;
    if (st != SL_OK)
        c->api->set_error(c->h, "deleting %s: %s", path, strerror(errno));
    free(path);
    return st;
}

static sl_status fs_probe(void *ctx)
{
    fs_ctx *c = ctx;
    struct stat sb;
    if (stat(c->root, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(c->root, W_OK) != 0) {
        c->api->set_error(c->h, "directory %s is missing or not writable", c->root);
        return SL_ERROR;
    }
    return SL_OK;
}

static const sl_sink_ops ops = {
    .size = sizeof(sl_sink_ops),
    .put_begin = fs_put_begin,
    .put_write = fs_put_write,
    .put_commit = fs_put_commit,
    .put_abort = fs_put_abort,
    .get = fs_get,
    .list = fs_list,
    .del = fs_del,
    .probe = fs_probe,
    .conditional = 1,
};

static const sl_plugin plugin = {
    SL_PLUGIN_INIT(SL_KIND_SINK, "file", "1.0.0", "objects as files in a local directory"),
    .options = options,
    .create = fs_create,
    .open = fs_open,
    .destroy = fs_destroy,
    .sink = &ops,
};

SL_PLUGIN_ENTRY(file)
{
    return &plugin;
}
