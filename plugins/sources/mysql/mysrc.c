/*
 * mysrc.c - the mysql source plugin (MariaDB and MySQL through MariaDB Connector/C): options,
 * lifecycle, probe (sluice check --connect) and positions. Tables and the snapshot are in
 * mysnap.c, connecting and the server checks in myconn.c, the pure text/position helpers in
 * mytext.c.
 *
 * Positions are text: "gtid=<set>;file=<binlog file>;pos=<offset>" (mytext.h).
 * Streaming the binlog after the snapshot is not implemented yet: only `sluice run --once`
 * (snapshot, then SL_EOF) runs; anything that would need the binlog fails at open with one line.
 */
#include "mysrc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const snap_modes[] = {"initial", "never", "always", NULL};
static const char *const ssl_modes[] = {"disabled",  "preferred",       "required",
                                        "verify_ca", "verify_identity", NULL};

static const sl_option my_options[] = {
    SL_OPTION("host", SL_OPT_STRING, 0, "127.0.0.1", "server host"),
    SL_OPTION_RANGE("port", SL_OPT_INT, 0, "3306", "server port", 1, 65535),
    SL_OPTION("socket", SL_OPT_STRING, 0, NULL, "Unix socket (instead of host and port)"),
    SL_OPTION("user", SL_OPT_STRING, SL_OPT_REQUIRED, NULL,
              "user with REPLICATION SLAVE, REPLICATION CLIENT and SELECT"),
    SL_OPTION("password", SL_OPT_STRING, SL_OPT_SECRET, NULL, "password"),
    SL_OPTION("database", SL_OPT_STRING, 0, NULL,
              "database of unqualified table names (and the namespace object keys leave out)"),
    SL_OPTION("tables", SL_OPT_LIST, 0, NULL,
              "tables: names in database or db.table; default every base table of database"),
    SL_OPTION_RANGE("server_id", SL_OPT_INT, SL_OPT_EXCLUSIVE, NULL,
                    "replica server_id (default 2^30 + FNV-1a(tenant) mod 2^30)", 1, 4294967295.0),
    SL_OPTION_CHOICE("ssl_mode", 0, "preferred",
                     "disabled | preferred | required | verify_ca | verify_identity", ssl_modes),
    SL_OPTION("ssl_ca", SL_OPT_STRING, 0, NULL, "CA certificate file (verify_ca, verify_identity)"),
    SL_OPTION_RANGE("connect_timeout", SL_OPT_INT, 0, "10", "connect timeout, seconds", 1, 3600),
    SL_OPTION_CHOICE("snapshot", 0, "initial", "initial | never | always", snap_modes),
    SL_OPTION_RANGE("heartbeat", SL_OPT_INT, 0, "10",
                    "seconds between the server's binlog heartbeats", 1, 3600),
    SL_OPTIONS_END,
};

static int choice(const char *v, const char *const *list, int dflt)
{
    for (int i = 0; v && list[i]; i++)
        if (strcmp(v, list[i]) == 0)
            return i;
    return dflt;
}

static int my_create(sl_host *h, const sl_host_api *api, void **ctx)
{
    mysrc *s = calloc(1, sizeof *s);
    if (!s) {
        api->set_error(h, "mysql: out of memory");
        return -1;
    }
    s->h = h;
    s->api = api;
    s->host = api->opt_string(h, "host");
    s->socket = api->opt_string(h, "socket");
    s->user = api->opt_string(h, "user");
    s->password = api->opt_string(h, "password");
    s->database = api->opt_string(h, "database");
    s->ssl_ca = api->opt_string(h, "ssl_ca");
    s->port = (unsigned)api->opt_int(h, "port", 3306);
    s->connect_timeout = (unsigned)api->opt_int(h, "connect_timeout", 10);
    s->heartbeat_s = (int)api->opt_int(h, "heartbeat", 10);
    s->snap_mode = choice(api->opt_string(h, "snapshot"), snap_modes, SL_MY_SNAP_INITIAL);
    s->ssl_mode = choice(api->opt_string(h, "ssl_mode"), ssl_modes, SL_MY_SSL_PREFERRED);
    s->server_id = api->opt_isset(h, "server_id") ? (uint32_t)api->opt_int(h, "server_id", 0)
                                                  : sl_my_default_server_id(api->tenant(h));
    if (s->socket)
        snprintf(s->where, sizeof s->where, "%s", s->socket);
    else
        snprintf(s->where, sizeof s->where, "%s:%u", s->host ? s->host : "127.0.0.1", s->port);
    const char *err = NULL, *opt = NULL;
    if (s->ssl_mode >= SL_MY_SSL_VERIFY_CA && !s->ssl_ca) {
        err = "ssl_mode verify_ca and verify_identity need ssl_ca (the CA certificate file)";
        opt = "ssl_mode";
    }
    /* Unqualified names (and the default selection) need a database. */
    size_t n = api->opt_list_len(h, "tables");
    if (!s->database && n == 0) {
        err = "set database (or list tables as db.table)";
        opt = "tables";
    }
    for (size_t i = 0; !s->database && i < n; i++) {
        const char *t = api->opt_list_item(h, "tables", i);
        if (t && !strchr(t, '.')) {
            err = "an unqualified table name needs database (or write db.table)";
            opt = "tables";
        }
    }
    if (err) {
        const char *w = api->opt_where(h, opt);
        api->set_error(h, "mysql: %s%s%s", w ? w : "", w ? ": " : "", err);
        free(s);
        return -1;
    }
    *ctx = s;
    return 0;
}

static void my_close(void *ctx)
{
    mysrc *s = ctx;
    sl_my_snapshot_abort(s);
    sl_my_stream_stop(s);
    if (s->conn) {
        mysql_close(s->conn);
        s->conn = NULL;
    }
    sl_my_tables_free(s);
    s->phase = SL_MY_PH_IDLE;
}

static void my_destroy(void *ctx)
{
    mysrc *s = ctx;
    my_close(s);
    free(s);
}

static int connect_checked(mysrc *s)
{
    s->conn = sl_my_connect(s);
    if (!s->conn)
        return -1;
    if (sl_my_check_server(s) < 0 || sl_my_load_tables(s) < 0)
        return -1;
    return 0;
}

static int my_open(void *ctx, const sl_open_args *args)
{
    mysrc *s = ctx;
    my_close(s); /* a re-open after an error starts clean */
    s->once = args->once;
    sl_my_pos resume;
    int have_resume = args->resume_pos != NULL;
    if (have_resume && sl_my_pos_parse(args->resume_pos, args->resume_len, &resume) < 0) {
        s->api->set_error(s->h, "mysql: resume position is not a mysql position");
        return -1;
    }
    int snapshot =
        s->snap_mode == SL_MY_SNAP_ALWAYS || (!have_resume && s->snap_mode == SL_MY_SNAP_INITIAL);
    /* Everything but a snapshot (or a first start with snapshot = never) reads the binlog. */
    if (!sl_my_stream_available() && (!s->once || (have_resume && !snapshot))) {
        if (have_resume)
            s->api->set_error(s->h,
                              "mysql: changes since %.*s cannot be read: binlog streaming is not "
                              "implemented yet; set snapshot = \"always\" and run with --once "
                              "for a fresh snapshot",
                              (int)args->resume_len, (const char *)args->resume_pos);
        else
            s->api->set_error(s->h, "mysql: binlog streaming is not implemented yet: only "
                                    "`sluice run --once` (a snapshot) works with this source");
        return -1;
    }
    if (connect_checked(s) < 0)
        goto fail;
    if (snapshot) {
        /* Schemas are read once the read view is open, so they describe what the copy reads. */
        if (sl_my_snapshot_begin(s) < 0 || sl_my_load_schemas(s) < 0)
            goto fail;
        return 0;
    }
    if (sl_my_load_schemas(s) < 0)
        goto fail;
    if (have_resume) {
        if (sl_my_stream_start(s, &resume) < 0)
            goto fail;
        return 0;
    }
    /* snapshot = never, first start: nothing to copy; the position is now. */
    if (sl_my_current_pos(s, &s->snap_pos) < 0)
        goto fail;
    if (!s->once) {
        if (sl_my_stream_start(s, &s->snap_pos) < 0)
            goto fail;
        return 0;
    }
    s->phase = SL_MY_PH_SNAPSHOT;
    s->snap_idx = s->ntabs; /* no table to copy: the poll only commits the position */
    if (sl_my_exec(s, "START TRANSACTION", "starting a transaction") < 0)
        goto fail;
    return 0;
fail:
    my_close(s);
    return -1;
}

static sl_status my_poll(void *ctx, int timeout_ms)
{
    mysrc *s = ctx;
    switch (s->phase) {
    case SL_MY_PH_SNAPSHOT:
        return sl_my_snapshot_poll(s);
    case SL_MY_PH_STREAM:
        return sl_my_stream_poll(s, timeout_ms);
    case SL_MY_PH_EOF:
        return SL_EOF;
    default:
        s->api->set_error(s->h, "mysql: poll before open");
        return SL_ERROR;
    }
}

static sl_status my_probe(void *ctx)
{
    mysrc *s = ctx;
    int rc = connect_checked(s);
    my_close(s);
    return rc < 0 ? SL_ERROR : SL_OK;
}

static void my_durable(void *ctx, const void *pos, size_t len)
{
    /* Nothing to release: a binlog reader holds nothing on the server (no slot). */
    (void)ctx;
    (void)pos;
    (void)len;
}

static int my_pos_compare(const void *a, size_t alen, const void *b, size_t blen)
{
    sl_my_pos x, y;
    if (sl_my_pos_parse(a, alen, &x) != 0 || sl_my_pos_parse(b, blen, &y) != 0)
        return SL_POS_UNORDERED;
    return sl_my_pos_compare(&x, &y);
}

static int my_pos_format(const void *pos, size_t len, char *out, size_t outlen)
{
    sl_my_pos p;
    if (sl_my_pos_parse(pos, len, &p) != 0)
        return -1;
    if (outlen)
        snprintf(out, outlen, "%.*s", (int)len, (const char *)pos);
    return (int)len;
}

static const char *my_default_ns(void *ctx)
{
    return ((mysrc *)ctx)->database;
}

static int my_init(const sl_host_api *api, char *err, size_t errlen)
{
    (void)api;
    if (mysql_library_init(0, NULL, NULL) != 0) {
        snprintf(err, errlen, "mysql_library_init failed");
        return -1;
    }
    return 0;
}

static void my_fini(void)
{
    mysql_library_end();
}

static const sl_source_ops my_source_ops = {
    .size = sizeof(sl_source_ops),
    .poll = my_poll,
    .durable = my_durable,
    .probe = my_probe,
    .pos_compare = my_pos_compare,
    .pos_format = my_pos_format,
    .default_ns = my_default_ns,
};

static const sl_plugin my_plugin = {
    SL_PLUGIN_INIT(SL_KIND_SOURCE, "mysql", "0.1.0",
                   "MariaDB / MySQL: consistent snapshot (binlog streaming: not yet)"),
    .options = my_options,
    .init = my_init,
    .fini = my_fini,
    .create = my_create,
    .open = my_open,
    .close = my_close,
    .destroy = my_destroy,
    .source = &my_source_ops,
};

SL_PLUGIN_ENTRY(mysql)
{
    return &my_plugin;
}
