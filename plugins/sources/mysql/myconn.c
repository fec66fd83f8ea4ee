/* myconn.c - connecting (options, TLS, session settings) and the server checks shared by open()
 * and probe(): binlog settings, privileges, server_id and TLS, each failure one line naming the
 * setting and the fix. */
#include "mysrc.h"

#include <errmsg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t sl_my_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sl_my_error(mysrc *s, const char *what)
{
    /* Server messages are one line already; keep them so and short. */
    char msg[400];
    snprintf(msg, sizeof msg, "%s", mysql_error(s->conn));
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    s->api->set_error(s->h, "mysql: %s: %s: %s (error %u)", s->where, what, msg,
                      mysql_errno(s->conn));
}

int sl_my_exec(mysrc *s, const char *sql, const char *what)
{
    if (mysql_real_query(s->conn, sql, strlen(sql)) != 0) {
        sl_my_error(s, what);
        return -1;
    }
    MYSQL_RES *r = mysql_store_result(s->conn);
    mysql_free_result(r);
    if (!r && mysql_field_count(s->conn) != 0) {
        sl_my_error(s, what);
        return -1;
    }
    return 0;
}

int sl_my_query_value(mysrc *s, const char *sql, char *out, size_t outlen, const char *what)
{
    if (mysql_real_query(s->conn, sql, strlen(sql)) != 0) {
        sl_my_error(s, what);
        return -1;
    }
    MYSQL_RES *r = mysql_store_result(s->conn);
    if (!r) {
        sl_my_error(s, what);
        return -1;
    }
    MYSQL_ROW row = mysql_fetch_row(r);
    int rc = 1;
    if (row && mysql_num_fields(r) >= 1) {
        unsigned long *len = mysql_fetch_lengths(r);
        snprintf(out, outlen, "%.*s", row[0] ? (int)len[0] : 0, row[0] ? row[0] : "");
        rc = row[0] ? 0 : 1;
    }
    mysql_free_result(r);
    return rc;
}

static int loopback(const char *host)
{
    return !host || strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0;
}

static MYSQL *try_connect(mysrc *s, int tls, unsigned *err, char *msg, size_t msglen)
{
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        snprintf(msg, msglen, "out of memory");
        *err = 0;
        return NULL;
    }
    unsigned to = s->connect_timeout;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &to);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* UTC session: TIMESTAMP columns then read as the UTC instant, which is what the binlog
     * stores. The long net_write_timeout lets an unbuffered snapshot SELECT wait while the
     * host flushes (the server would otherwise drop the connection after 60 s). */
    mysql_options(m, MYSQL_INIT_COMMAND,
                  "SET time_zone = '+00:00', net_write_timeout = 3600, net_read_timeout = 3600");
    if (tls) {
        my_bool on = 1;
        mysql_ssl_set(m, NULL, NULL, s->ssl_ca, NULL, NULL);
        if (s->ssl_mode >= SL_MY_SSL_REQUIRED)
            mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
        if (s->ssl_mode == SL_MY_SSL_VERIFY_IDENTITY)
            mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    }
    if (!mysql_real_connect(m, s->socket ? NULL : s->host, s->user, s->password, NULL, s->port,
                            s->socket, 0)) {
        *err = mysql_errno(m);
        snprintf(msg, msglen, "%s", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

MYSQL *sl_my_connect(mysrc *s)
{
    unsigned err = 0;
    char msg[400];
    MYSQL *m = try_connect(s, s->ssl_mode != SL_MY_SSL_DISABLED, &err, msg, sizeof msg);
    if (!m && s->ssl_mode == SL_MY_SSL_PREFERRED && err == CR_SSL_CONNECTION_ERROR) {
        s->api->log(s->h, SL_LOG_WARN,
                    "mysql: %s: TLS failed (%s); ssl_mode = preferred: "
                    "connecting without TLS",
                    s->where, msg);
        m = try_connect(s, 0, &err, msg, sizeof msg);
    }
    if (!m) {
        for (char *p = msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        const char *hint = "";
        if (err == 1045)
            hint = "; check user and password";
        else if (err == CR_CONN_HOST_ERROR || err == CR_CONNECTION_ERROR)
            hint = "; check host, port or socket and that the server runs";
        s->api->set_error(s->h, "mysql: cannot connect to %s as %s: %s (error %u)%s", s->where,
                          s->user ? s->user : "(current user)", msg, err, hint);
        return NULL;
    }
    return m;
}

/* Privileges held globally by the current user (directly; roles are not expanded). */
static int has_priv(mysrc *s, const char *privs, const char *name)
{
    (void)s;
    size_t n = strlen(name);
    for (const char *p = privs; (p = strstr(p, name)); p += n)
        if ((p == privs || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

int sl_my_check_server(mysrc *s)
{
    const sl_host_api *api = s->api;
    if (mysql_real_query(s->conn,
                         "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@server_id,"
                         " VERSION()",
                         strlen("SELECT @@log_bin, @@binlog_format, @@binlog_row_image, "
                                "@@server_id, VERSION()")) != 0) {
        sl_my_error(s, "reading server settings");
        return -1;
    }
    MYSQL_RES *r = mysql_store_result(s->conn);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    if (!row || mysql_num_fields(r) != 5) {
        mysql_free_result(r);
        sl_my_error(s, "reading server settings");
        return -1;
    }
    char logbin[8], fmt[32], image[32], sid[24];
    snprintf(logbin, sizeof logbin, "%s", row[0] ? row[0] : "");
    snprintf(fmt, sizeof fmt, "%s", row[1] ? row[1] : "");
    snprintf(image, sizeof image, "%s", row[2] ? row[2] : "");
    snprintf(sid, sizeof sid, "%s", row[3] ? row[3] : "");
    snprintf(s->version, sizeof s->version, "%s", row[4] ? row[4] : "");
    mysql_free_result(r);
    s->mariadb = strstr(s->version, "MariaDB") != NULL;
    if (strcmp(logbin, "1") != 0) {
        api->set_error(s->h,
                       "mysql: %s: binary logging is off (log_bin = OFF): start the server with "
                       "log_bin (e.g. log-bin=mysql-bin in my.cnf) and restart it",
                       s->where);
        return -1;
    }
    if (strcasecmp(fmt, "ROW") != 0) {
        api->set_error(s->h,
                       "mysql: %s: binlog_format is %s, not ROW: set binlog_format = ROW in "
                       "my.cnf (and SET GLOBAL binlog_format = 'ROW')",
                       s->where, fmt);
        return -1;
    }
    if (strcasecmp(image, "FULL") != 0) {
        api->set_error(s->h,
                       "mysql: %s: binlog_row_image is %s, not FULL: set binlog_row_image = FULL "
                       "in my.cnf (and SET GLOBAL binlog_row_image = 'FULL')",
                       s->where, image);
        return -1;
    }
    if (strtoul(sid, NULL, 10) == s->server_id) {
        const char *w = api->opt_where(s->h, "server_id");
        api->set_error(s->h,
                       "mysql: %s%s%s: server_id %u is the server's own: choose another "
                       "server_id",
                       s->where, w ? " " : "", w ? w : "", (unsigned)s->server_id);
        return -1;
    }
    /* Global privileges of the current user, comma-joined. */
    char privs[1024];
    int rc = sl_my_query_value(
        s,
        "SELECT GROUP_CONCAT(PRIVILEGE_TYPE) FROM information_schema.USER_PRIVILEGES WHERE "
        "GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
        "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')",
        privs, sizeof privs, "reading privileges");
    if (rc < 0)
        return -1;
    if (rc == 1)
        privs[0] = '\0';
    const char *fix = "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO the user";
    if (!has_priv(s, privs, "REPLICATION SLAVE")) {
        api->set_error(s->h,
                       "mysql: %s: user %s lacks REPLICATION SLAVE (needed to read the "
                       "binlog): %s",
                       s->where, s->user ? s->user : "", fix);
        return -1;
    }
    /* MariaDB 10.5+ names REPLICATION CLIENT "BINLOG MONITOR". */
    if (!has_priv(s, privs, "REPLICATION CLIENT") && !has_priv(s, privs, "BINLOG MONITOR")) {
        api->set_error(s->h,
                       "mysql: %s: user %s lacks REPLICATION CLIENT (needed to read binlog "
                       "coordinates): %s",
                       s->where, s->user ? s->user : "", fix);
        return -1;
    }
    if (!s->mariadb && s->snap_mode != SL_MY_SNAP_NEVER && !has_priv(s, privs, "RELOAD")) {
        api->set_error(s->h,
                       "mysql: %s: user %s lacks RELOAD (MySQL needs FLUSH TABLES WITH READ "
                       "LOCK for the snapshot's coordinates): GRANT RELOAD ON *.* TO the user",
                       s->where, s->user ? s->user : "");
        return -1;
    }
    /* SELECT is checked per table (sl_my_load_tables): it may be granted per database. */
    const char *cipher = mysql_get_ssl_cipher(s->conn);
    if (!s->socket && !loopback(s->host)) {
        if (!cipher)
            api->log(s->h, SL_LOG_WARN,
                     "mysql: %s: the connection is not encrypted (ssl_mode = "
                     "%s): use ssl_mode = \"verify_identity\" with ssl_ca",
                     s->where, s->ssl_mode == SL_MY_SSL_DISABLED ? "disabled" : "preferred");
        else if (s->ssl_mode < SL_MY_SSL_VERIFY_CA)
            api->log(s->h, SL_LOG_WARN,
                     "mysql: %s: TLS does not verify the server's certificate: "
                     "use ssl_mode = \"verify_identity\" with ssl_ca",
                     s->where);
    }
    api->log(s->h, SL_LOG_INFO, "mysql: connected to %s (%s)%s", s->where, s->version,
             cipher ? " with TLS" : "");
    return 0;
}
