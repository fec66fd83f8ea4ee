/* The sluice command line: version, plugins, check, run, qvd. */
#include "cli.h"

#include "engine_int.h"
#include "job.h"
#include "log.h"
#include "qvd/qvd.h"
#include "registry.h"
#include "supervisor.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: sluice [global options] COMMAND [args]\n"
    "\n"
    "Commands:\n"
    "  version                      print the version and the plugin ABI\n"
    "  plugins                      list every loadable plugin with kind, version and options\n"
    "  check [--connect] FILE|DIR... validate job files (exit 0 when all are valid, 1 otherwise);\n"
    "                               --connect also checks each sink's credentials and access\n"
    "  run [--once] FILE|DIR...     run every job; --once runs each job's snapshot or available\n"
    "                               changes to a durable flush, then exits\n"
    "      --metrics-file PATH      write Prometheus text metrics there every 250 ms\n"
    "      --stop-timeout SECONDS   graceful stop limit on SIGTERM/SIGINT (default 30)\n"
    "      --shard I/N              run only the tenants whose name hashes to shard I of N\n"
    "  qvd info FILE                describe a QVD file\n"
    "  qvd cat FILE [--format csv|jsonl] [--limit N] [--null TEXT]\n"
    "                               print a QVD file's rows\n"
    "\n"
    "Global options:\n"
    "  --plugin-dir DIR             search DIR for plugins first (repeatable); then\n"
    "                               $SLUICE_PLUGIN_PATH, <dir of sluice>/plugins, the install dir\n"
    "  --log-format text|json       log line format (default text)\n"
    "  --log-level error|warn|info|debug\n"
    "  -h, --help                   this help\n"
    "\n"
    "Signals: SIGHUP reloads job files (only changed jobs restart), SIGTERM/SIGINT stop "
    "gracefully.\n"
    "Docs: docs/cli.md, docs/job-scripts.md, docs/plugin-api.md.\n";

typedef struct gopts {
    const char *plugin_dirs[16];
    size_t nplugin_dirs;
} gopts;

static void exe_dir(char *out, size_t n)
{
    char buf[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (len <= 0) {
        snprintf(out, n, ".");
        return;
    }
    buf[len] = 0;
    snprintf(out, n, "%s", dirname(buf));
}

static void load_registry(const gopts *g, sl_registry *reg)
{
    char dir[PATH_MAX];
    exe_dir(dir, sizeof dir);
    sl_registry_load(reg, g->plugin_dirs, g->nplugin_dirs, dir);
}

static const char *opt_type_name(sl_opt_type t)
{
    switch (t) {
    case SL_OPT_STRING:
        return "string";
    case SL_OPT_INT:
        return "integer";
    case SL_OPT_DOUBLE:
        return "number";
    case SL_OPT_BOOL:
        return "boolean";
    case SL_OPT_LIST:
        return "list";
    case SL_OPT_MAP:
        return "map";
    case SL_OPT_TABLE:
        return "table";
    }
    return "?";
}

static void print_options(const sl_option *opts)
{
    for (const sl_option *o = opts; o && o->name; o++) {
        printf("    %-20s %-8s %s%s%s%s%s\n", o->name, opt_type_name(o->type),
               (o->flags & SL_OPT_REQUIRED) ? "required" : "optional",
               o->default_value ? ", default " : "", o->default_value ? o->default_value : "",
               (o->flags & SL_OPT_SECRET) ? ", secret" : "",
               (o->flags & SL_OPT_EXCLUSIVE) ? ", one job per value" : "");
        if (o->help)
            printf("    %-20s %s\n", "", o->help);
        if (o->choices) {
            printf("    %-20s one of:", "");
            for (const char *const *c = o->choices; *c; c++)
                printf(" %s", *c);
            printf("\n");
        }
        if ((o->flags & SL_OPT_RANGE) && (o->type == SL_OPT_INT || o->type == SL_OPT_DOUBLE))
            printf("    %-20s from %.15g to %.15g\n", "", o->min, o->max);
    }
}

static int cmd_plugins(const gopts *g)
{
    sl_registry reg;
    load_registry(g, &reg);
    for (int kind = SL_KIND_SOURCE; kind <= SL_KIND_NOTIFIER; kind++) {
        for (size_t i = 0; i < reg.n; i++) {
            const sl_plugin *p = &reg.items[i].desc;
            if ((int)p->kind != kind)
                continue;
            printf("%-9s %-12s %-8s %s\n", sl_kind_name(p->kind), p->name,
                   p->version ? p->version : "?", p->description ? p->description : "");
            printf("    file: %s\n", reg.items[i].path);
            print_options(p->options);
        }
    }
    printf("job-wide settings (top level of the job table)\n");
    print_options(sl_job_options);
    for (size_t i = 0; i < reg.nrefusals; i++)
        printf("refused   %s\n", reg.refusals[i]);
    if (reg.n == 0)
        printf("no plugins found (try --plugin-dir or SLUICE_PLUGIN_PATH)\n");
    sl_registry_free(&reg);
    return 0;
}

static sl_status ignore_key(void *ud, const char *key, uint64_t size)
{
    (void)ud;
    (void)key;
    (void)size;
    return SL_OK;
}

/* A plugin problem found by check: "FILE:LINE: tenant T: kind "name": message". A plugin that
 * named the option's place itself (opt_where: "FILE:LINE: ...") keeps that line. */
static void report(const sl_jobdesc *d, const sl_plugin_spec *spec, const char *msg)
{
    int line = spec->line;
    size_t fl = strlen(d->file);
    if (strncmp(msg, d->file, fl) == 0 && msg[fl] == ':' && msg[fl + 1] >= '0' &&
        msg[fl + 1] <= '9') {
        char *end = NULL;
        long l = strtol(msg + fl + 1, &end, 10);
        if (*end == ':' && l > 0 && l < 1000000) {
            line = (int)l;
            msg = end + 1;
            while (*msg == ' ')
                msg++;
        }
    }
    fprintf(stderr, "%s:%d: tenant %s: %s \"%s\": %s\n", d->file, line, d->tenant,
            sl_kind_name(spec->entry->desc.kind), spec->plugin, msg);
}

/* One plugin instance outside any job: create() (which validates the options the loader cannot
 * judge, with no I/O), with connect also the kind's probe, then destroy(). 0 ok, -1 reported. */
static int check_plugin(const sl_jobdesc *d, const sl_plugin_spec *spec, int connect)
{
    const sl_plugin *p = &spec->entry->desc;
    sl_job fake;
    memset(&fake, 0, sizeof fake);
    fake.desc = (sl_jobdesc *)d;
    sl_run *r = calloc(1, sizeof *r); /* large (latency histogram): not on the stack */
    if (!r) {
        fprintf(stderr, "%s: out of memory\n", d->file);
        return -1;
    }
    r->job = &fake;
    r->d = d;
    sl_host *h = &r->source;
    h->run = r;
    h->entry = spec->entry;
    h->spec = spec;
    snprintf(h->label, sizeof h->label, "%s/%s", sl_kind_name(p->kind), p->name);
    int ok = 0;
    if (p->create(h, &sl_host_api_v2, &h->ctx) != 0) {
        report(d, spec, h->err[0] ? h->err : "create failed");
        free(r);
        return -1;
    }
    if (connect && p->kind == SL_KIND_SOURCE) {
        /* probe() replaces open(): the instance is destroyed after it, never closed (a close
         * after a probe could act on state the probe never made, e.g. drop a slot). */
        if (!p->source->probe) {
            printf("%s:%d: tenant %s: source \"%s\" cannot be checked without running (the "
                   "plugin has no probe)\n",
                   d->file, spec->line, d->tenant, spec->plugin);
        } else if (p->source->probe(h->ctx) != SL_OK) {
            report(d, spec, h->err[0] ? h->err : "probe failed");
            ok = -1;
        }
    } else if (connect && p->kind == SL_KIND_NOTIFIER && p->notifier->probe) {
        if (p->notifier->probe(h->ctx) != SL_OK) {
            report(d, spec, h->err[0] ? h->err : "probe failed");
            ok = -1;
        }
    } else if (connect && p->kind == SL_KIND_SINK) {
        if (p->open && p->open(h->ctx, NULL) != 0) {
            report(d, spec, h->err[0] ? h->err : "open failed");
            ok = -1;
        } else {
            /* Without a probe entry, listing the prefix is the least intrusive check. */
            sl_status st = p->sink->probe ? p->sink->probe(h->ctx)
                                          : p->sink->list(h->ctx, "_sluice/", ignore_key, NULL);
            if (st != SL_OK) {
                report(d, spec, h->err[0] ? h->err : "access check failed");
                ok = -1;
            }
            if (p->close)
                p->close(h->ctx);
        }
    }
    p->destroy(h->ctx);
    free(r);
    return ok;
}

/* Every plugin of a loaded job, in the order a run creates them (roughly). */
static int check_job(const sl_jobdesc *d, int connect)
{
    int bad = check_plugin(d, &d->source, connect) != 0;
    for (size_t i = 0; i < d->ntransforms; i++)
        bad |= check_plugin(d, &d->transforms[i], connect) != 0;
    bad |= check_plugin(d, &d->sink, connect) != 0;
    for (size_t i = 0; i < d->nnotifiers; i++)
        bad |= check_plugin(d, &d->notifiers[i], connect) != 0;
    return bad ? -1 : 0;
}

static int cmd_check(const gopts *g, int argc, char **argv)
{
    int connect = 0;
    char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nf = 0;
    if (!files)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--connect") == 0)
            connect = 1;
        else
            files[nf++] = argv[i];
    }
    if (nf == 0) {
        fprintf(stderr, "sluice check: no job files given\n%s", usage);
        free(files);
        return 2;
    }
    sl_registry reg;
    load_registry(g, &reg);
    char **paths = NULL;
    size_t np = 0;
    sl_expand_paths(files, nf, &paths, &np);
    int bad = 0;
    /* Every loaded job stays until the end: tenants and exclusive options are compared across
     * all the files given. */
    sl_jobdesc **jobs = calloc(np + 1, sizeof *jobs);
    size_t nj = 0;
    if (!jobs)
        bad = 1;
    for (size_t i = 0; i < np && jobs; i++) {
        sl_diag diag = {0};
        sl_jobdesc *d = sl_job_load(paths[i], &reg, &diag);
        int file_bad = d == NULL;
        if (!d && diag.n == 0)
            fprintf(stderr, "%s:1: invalid job file\n", paths[i]);
        for (size_t k = 0; d && k < nj; k++) {
            if (strcmp(jobs[k]->tenant, d->tenant) == 0) {
                sl_diag_add(&diag, paths[i], d->tenant_line,
                            "tenant \"%s\" is also defined in %s:%d", d->tenant, jobs[k]->file,
                            jobs[k]->tenant_line);
                file_bad = 1;
            }
            if (sl_job_clashes(jobs[k], d, &diag))
                file_bad = 1;
        }
        for (size_t k = 0; k < diag.n; k++)
            fprintf(stderr, "%s\n", diag.lines[k]);
        sl_diag_free(&diag);
        if (d && check_job(d, connect) != 0)
            file_bad = 1;
        if (d && !file_bad)
            printf("%s: ok (tenant %s)\n", paths[i], d->tenant);
        if (d)
            jobs[nj++] = d;
        bad |= file_bad;
    }
    if (np == 0) {
        fprintf(stderr, "sluice check: no job files found\n");
        bad = 1;
    }
    for (size_t k = 0; k < nj; k++)
        sl_job_free(jobs[k]);
    free(jobs);
    sl_free_paths(paths, np);
    sl_registry_free(&reg);
    free(files);
    return bad ? 1 : 0;
}

static int cmd_run(const gopts *g, int argc, char **argv)
{
    sl_run_opts o = {.stop_timeout_ms = 30000};
    char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t nf = 0;
    if (!files)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0) {
            o.once = 1;
        } else if (strcmp(argv[i], "--metrics-file") == 0 && i + 1 < argc) {
            o.metrics_file = argv[++i];
        } else if (strcmp(argv[i], "--stop-timeout") == 0 && i + 1 < argc) {
            o.stop_timeout_ms = (int)(atof(argv[++i]) * 1000);
        } else if (strcmp(argv[i], "--shard") == 0 && i + 1 < argc) {
            if (sscanf(argv[++i], "%d/%d", &o.shard_i, &o.shard_n) != 2 || o.shard_n <= 0 ||
                o.shard_i < 0 || o.shard_i >= o.shard_n) {
                fprintf(stderr, "sluice run: --shard wants I/N with 0 <= I < N\n");
                free(files);
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "sluice run: unknown option %s\n", argv[i]);
            free(files);
            return 2;
        } else {
            files[nf++] = argv[i];
        }
    }
    if (nf == 0) {
        fprintf(stderr, "sluice run: no job files given\n");
        free(files);
        return 2;
    }
    sl_registry reg;
    load_registry(g, &reg);
    int rc = sl_supervise(&reg, files, nf, &o);
    sl_registry_free(&reg);
    free(files);
    return rc;
}

int sl_cli_main(int argc, char **argv)
{
    gopts g = {0};
    sl_log_format lf = SL_LOGFMT_TEXT;
    sl_log_level ll = SL_LOG_INFO;
    /* Global options may come before the command. */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc) {
            if (g.nplugin_dirs < 16)
                g.plugin_dirs[g.nplugin_dirs++] = argv[++i];
        } else if (strcmp(argv[i], "--log-format") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "json") == 0)
                lf = SL_LOGFMT_JSON;
            else if (strcmp(v, "text") != 0) {
                fprintf(stderr, "sluice: --log-format must be text or json\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "error") == 0)
                ll = SL_LOG_ERROR;
            else if (strcmp(v, "warn") == 0)
                ll = SL_LOG_WARN;
            else if (strcmp(v, "info") == 0)
                ll = SL_LOG_INFO;
            else if (strcmp(v, "debug") == 0)
                ll = SL_LOG_DEBUG;
            else {
                fprintf(stderr, "sluice: --log-level must be error, warn, info or debug\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("sluice %s (plugin ABI %d.%d)\n", SL_VERSION, SL_PLUGIN_ABI_MAJOR,
                   SL_PLUGIN_ABI_MINOR);
            return 0;
        } else {
            fprintf(stderr, "sluice: unknown option %s\n%s", argv[i], usage);
            return 2;
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    sl_log_setup(lf, ll);
    const char *cmd = argv[i];
    int rest = argc - i - 1;
    char **rargv = argv + i + 1;
    if (strcmp(cmd, "version") == 0) {
        printf("sluice %s (plugin ABI %d.%d)\n", SL_VERSION, SL_PLUGIN_ABI_MAJOR,
               SL_PLUGIN_ABI_MINOR);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "plugins") == 0)
        return cmd_plugins(&g);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(&g, rest, rargv);
    if (strcmp(cmd, "run") == 0) {
        sl_signals_block();
        return cmd_run(&g, rest, rargv);
    }
    if (strcmp(cmd, "qvd") == 0)
        return sl_cli_qvd(argc - i, argv + i);
    fprintf(stderr, "sluice: unknown command \"%s\"\n%s", cmd, usage);
    return 2;
}
