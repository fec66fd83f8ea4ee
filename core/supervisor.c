#include "supervisor.h"

#include "engine.h"
#include "fnv.h"
#include "job.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push_path(char ***v, size_t *n, const char *p)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    *v = nv;
    nv[*n] = strdup(p);
    if (!nv[*n])
        return -1;
    (*n)++;
    return 0;
}

int sl_expand_paths(char *const *args, size_t nargs, char ***out, size_t *nout)
{
    char **v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < nargs; i++) {
        struct stat st;
        if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(args[i]);
            if (!d)
                continue;
            size_t first = n;
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (de->d_name[0] == '.' || !ends_with(de->d_name, ".lua"))
                    continue;
                char path[4096];
                snprintf(path, sizeof path, "%s%s%s", args[i], ends_with(args[i], "/") ? "" : "/",
                         de->d_name);
                if (push_path(&v, &n, path) != 0)
                    break;
            }
            closedir(d);
            if (n > first) /* qsort wants a valid pointer even for zero items */
                qsort(v + first, n - first, sizeof *v, cmp_str);
        } else {
            /* Missing files are kept: loading them reports the error with the name. */
            if (push_path(&v, &n, args[i]) != 0)
                break;
        }
    }
    *out = v;
    *nout = n;
    return 0;
}

void sl_free_paths(char **paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* The signals the supervisor reads from its signalfd. */
static void control_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGQUIT);
    sigaddset(set, SIGUSR1);
}

void sl_signals_block(void)
{
    sigset_t set;
    control_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

typedef struct slot {
    char *path;
    sl_job *job;
} slot;

typedef struct sup {
    const sl_registry *reg;
    const sl_run_opts *o;
    slot *s;
    size_t n;
    uint64_t reloads;
} sup;

static uint64_t fnv(const char *s)
{
    return sl_fnv1a(SL_FNV_INIT, s, strlen(s));
}

static int in_shard(const sl_run_opts *o, const char *tenant)
{
    return o->shard_n <= 0 || (int)(fnv(tenant) % (uint64_t)o->shard_n) == o->shard_i;
}

static void log_diag(const sl_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        sl_log(SL_LOG_ERROR, NULL, NULL, "%s", d->lines[i]);
}

static slot *find_slot(sup *sp, const char *path)
{
    for (size_t i = 0; i < sp->n; i++)
        if (strcmp(sp->s[i].path, path) == 0)
            return &sp->s[i];
    return NULL;
}

static const slot *tenant_owner(sup *sp, const char *tenant, const char *except_path)
{
    for (size_t i = 0; i < sp->n; i++)
        if (sp->s[i].job && strcmp(sp->s[i].job->desc->tenant, tenant) == 0 &&
            strcmp(sp->s[i].path, except_path) != 0)
            return &sp->s[i];
    return NULL;
}

/* A running job (another file) that gives an exclusive option the same value: logged. */
static int clashes(sup *sp, const sl_jobdesc *d, const char *path)
{
    sl_diag diag = {0};
    for (size_t i = 0; i < sp->n; i++)
        if (sp->s[i].job && strcmp(sp->s[i].path, path) != 0)
            sl_job_clashes(sp->s[i].job->desc, d, &diag);
    for (size_t i = 0; i < diag.n; i++)
        sl_log(SL_LOG_ERROR, d->tenant, NULL, "%s: not started", diag.lines[i]);
    size_t n = diag.n;
    sl_diag_free(&diag);
    return n > 0;
}

static int stop_job(sup *sp, slot *sl, const char *why)
{
    sl_log(SL_LOG_INFO, sl->job->desc->tenant, NULL, "stopping job (%s)", why);
    sl_job_request_stop(sl->job);
    if (sl_job_join(sl->job, sp->o->stop_timeout_ms) != 0) {
        sl_log(SL_LOG_ERROR, sl->job->desc->tenant, NULL,
               "job did not stop within %d ms; it keeps running", sp->o->stop_timeout_ms);
        return -1;
    }
    sl_job_free_stopped(sl->job);
    sl->job = NULL;
    return 0;
}

static void add_slot(sup *sp, const char *path, sl_jobdesc *d)
{
    slot *ns = realloc(sp->s, (sp->n + 1) * sizeof *ns);
    if (!ns) {
        sl_job_free(d);
        return;
    }
    sp->s = ns;
    sp->s[sp->n].path = strdup(path);
    sp->s[sp->n].job = sl_job_start(d, sp->o->once);
    if (!sp->s[sp->n].path || !sp->s[sp->n].job) {
        free(sp->s[sp->n].path);
        return;
    }
    sp->n++;
}

/* Load, diff, apply. Old versions keep running when their new file does not load. Returns the
 * number of files that failed to load. */
static size_t reload(sup *sp, char *const *args, size_t nargs, int initial)
{
    size_t failed = 0;
    char **paths = NULL;
    size_t np = 0;
    sl_expand_paths(args, nargs, &paths, &np);
    if (!initial)
        sl_log(SL_LOG_INFO, NULL, NULL, "reloading %zu job file(s)", np);
    /* Stop jobs whose file is gone. */
    for (size_t i = 0; i < sp->n; i++) {
        int present = 0;
        for (size_t k = 0; k < np; k++)
            if (strcmp(paths[k], sp->s[i].path) == 0)
                present = 1;
        if (sp->s[i].job && (!present || access(sp->s[i].path, F_OK) != 0))
            stop_job(sp, &sp->s[i], "its job file was removed");
    }
    for (size_t k = 0; k < np; k++) {
        slot *old = find_slot(sp, paths[k]);
        if (old && !old->job && access(paths[k], F_OK) != 0)
            continue; /* removed and already stopped */
        sl_diag diag = {0};
        sl_jobdesc *d = sl_job_load(paths[k], sp->reg, &diag);
        if (!d) {
            failed++;
            log_diag(&diag);
            if (old && old->job)
                sl_log(SL_LOG_ERROR, old->job->desc->tenant, NULL,
                       "%s failed to load: the running version keeps running", paths[k]);
            sl_diag_free(&diag);
            continue;
        }
        if (!in_shard(sp->o, d->tenant)) {
            sl_diag_free(&diag);
            sl_job_free(d);
            continue;
        }
        const slot *owner = tenant_owner(sp, d->tenant, paths[k]);
        if (owner) {
            sl_log(SL_LOG_ERROR, d->tenant, NULL, "%s: tenant \"%s\" is already run by %s",
                   paths[k], d->tenant, owner->path);
            failed++;
            sl_diag_free(&diag);
            sl_job_free(d);
            continue;
        }
        if (clashes(sp, d, paths[k])) {
            failed++;
            sl_diag_free(&diag);
            sl_job_free(d);
            continue;
        }
        if (old && old->job && strcmp(old->job->desc->hash, d->hash) == 0) {
            sl_diag_free(&diag);
            sl_job_free(d); /* unchanged: untouched (its warnings were logged when it started) */
            continue;
        }
        for (size_t i = 0; i < diag.n; i++)
            sl_log(SL_LOG_WARN, d->tenant, NULL, "%s", diag.lines[i]);
        sl_diag_free(&diag);
        if (old && old->job) {
            if (stop_job(sp, old, "its job file changed") != 0) {
                sl_job_free(d);
                continue;
            }
            old->job = sl_job_start(d, sp->o->once);
            continue;
        }
        if (old) {
            old->job = sl_job_start(d, sp->o->once);
            continue;
        }
        add_slot(sp, paths[k], d);
    }
    sl_free_paths(paths, np);
    if (!initial)
        sp->reloads++;
    return failed;
}

static void write_metrics(sup *sp)
{
    if (!sp->o->metrics_file)
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", sp->o->metrics_file);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "sluice_build_info{version=\"%s\"} 1\nsluice_reloads_total %llu\n", SL_VERSION,
            (unsigned long long)sp->reloads);
    for (size_t i = 0; i < sp->n; i++) {
        if (!sp->s[i].job)
            continue;
        char *m = sl_job_metrics(sp->s[i].job);
        if (m)
            fputs(m, f);
        free(m);
    }
    if (fclose(f) == 0)
        rename(tmp, sp->o->metrics_file);
}

static int all_done(sup *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        if (sp->s[i].job && !atomic_load(&sp->s[i].job->done))
            return 0;
    return 1;
}

int sl_supervise(const sl_registry *reg, char *const *args, size_t nargs, const sl_run_opts *o)
{
    sup sp = {.reg = reg, .o = o};
    sigset_t set;
    control_signals(&set);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        sl_log(SL_LOG_ERROR, NULL, NULL, "signalfd: %s", strerror(errno));
        return 1;
    }
    size_t failed = reload(&sp, args, nargs, 1);
    size_t running = 0;
    for (size_t i = 0; i < sp.n; i++)
        running += sp.s[i].job != NULL;
    if (running == 0 && (failed > 0 || o->once)) {
        /* Nothing to run: an error when files failed; with --once, done (e.g. an empty shard). */
        if (failed)
            sl_log(SL_LOG_ERROR, NULL, NULL, "no job could be started");
        else
            sl_log(SL_LOG_INFO, NULL, NULL, "no job to run%s", o->shard_n ? " in this shard" : "");
        close(sfd);
        free(sp.s);
        return failed ? 1 : 0;
    }
    /* Without --once an empty job set (an empty directory, an empty shard) waits for SIGHUP. */
    sl_log(SL_LOG_INFO, NULL, NULL, "sluice %s running %zu job(s)%s", SL_VERSION, running,
           o->once ? " once" : "");
    int stopping = 0, rc = 0;
    for (;;) {
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        int pr = poll(&pfd, 1, 250);
        if (pr > 0) {
            struct signalfd_siginfo si;
            int hup = 0;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGHUP)
                    hup = 1; /* several in a row merge into one reload */
                else if (si.ssi_signo == SIGUSR1)
                    write_metrics(&sp);
                else if (stopping) {
                    sl_log(SL_LOG_WARN, NULL, NULL, "second signal: exiting now");
                    _exit(1);
                } else {
                    stopping = 1;
                }
            }
            if (hup && !stopping)
                reload(&sp, args, nargs, 0);
        }
        write_metrics(&sp);
        if (stopping) {
            sl_log(SL_LOG_INFO, NULL, NULL, "stopping all jobs (flush and checkpoint)");
            for (size_t i = 0; i < sp.n; i++)
                if (sp.s[i].job)
                    sl_job_request_stop(sp.s[i].job);
            int64_t deadline = sl_mono_us() + (int64_t)o->stop_timeout_ms * 1000;
            for (size_t i = 0; i < sp.n; i++) {
                if (!sp.s[i].job)
                    continue;
                int64_t left = (deadline - sl_mono_us()) / 1000;
                if (sl_job_join(sp.s[i].job, left > 0 ? (int)left : 0) != 0) {
                    sl_log(SL_LOG_ERROR, sp.s[i].job->desc->tenant, NULL,
                           "job did not stop within the timeout");
                    rc = 1;
                    continue;
                }
                sl_job_free_stopped(sp.s[i].job);
                sp.s[i].job = NULL;
            }
            break;
        }
        if (o->once && all_done(&sp)) {
            for (size_t i = 0; i < sp.n; i++) {
                if (!sp.s[i].job)
                    continue;
                sl_job_join(sp.s[i].job, 1000);
                if (atomic_load(&sp.s[i].job->failed))
                    rc = 1;
                sl_job_free_stopped(sp.s[i].job);
                sp.s[i].job = NULL;
            }
            break;
        }
    }
    if (rc != 0 && stopping)
        _exit(rc); /* threads still running: do not free what they use */
    write_metrics(&sp);
    for (size_t i = 0; i < sp.n; i++)
        free(sp.s[i].path);
    free(sp.s);
    close(sfd);
    if (rc == 0 && o->once && failed) {
        /* A file that failed to load fails the run, once the others have run. */
        sl_log(SL_LOG_ERROR, NULL, NULL, "%zu job file(s) could not be started", failed);
        rc = 1;
    }
    return rc;
}
