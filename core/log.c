#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Set once in main() before threads start; read-only afterwards. */
static sl_log_format g_fmt = SL_LOGFMT_TEXT;
static sl_log_level g_level = SL_LOG_INFO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *level_name(sl_log_level l)
{
    switch (l) {
    case SL_LOG_ERROR:
        return "error";
    case SL_LOG_WARN:
        return "warn";
    case SL_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void sl_log_setup(sl_log_format fmt, sl_log_level max_level)
{
    g_fmt = fmt;
    g_level = max_level;
}

static void json_str(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
}

void sl_logv(sl_log_level lvl, const char *tenant, const char *plugin, const char *fmt, va_list ap)
{
    if (lvl > g_level)
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* One event, one line: fold embedded newlines. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    pthread_mutex_lock(&g_lock);
    if (g_fmt == SL_LOGFMT_JSON) {
        char jm[4200], jt[200], jp[200];
        json_str(jm, sizeof jm, msg);
        json_str(jt, sizeof jt, tenant);
        json_str(jp, sizeof jp, plugin);
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\"", when, level_name(lvl));
        if (tenant)
            fprintf(stderr, ",\"tenant\":\"%s\"", jt);
        if (plugin)
            fprintf(stderr, ",\"plugin\":\"%s\"", jp);
        fprintf(stderr, ",\"msg\":\"%s\"}\n", jm);
    } else {
        fprintf(stderr, "%s %-5s", when, level_name(lvl));
        if (tenant)
            fprintf(stderr, " tenant=%s", tenant);
        if (plugin)
            fprintf(stderr, " plugin=%s", plugin);
        fprintf(stderr, " %s\n", msg);
    }
    fflush(stderr);
    pthread_mutex_unlock(&g_lock);
}

void sl_log(sl_log_level lvl, const char *tenant, const char *plugin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sl_logv(lvl, tenant, plugin, fmt, ap);
    va_end(ap);
}
