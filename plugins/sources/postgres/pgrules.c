/* pgrules.c - pure decisions of the postgres source (see pgrules.h). */
#include "pgrules.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static void sanitize(const char *tenant, char *out, size_t max)
{
    size_t o = 0;
    for (const char *p = tenant ? tenant : ""; *p && o < max; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        out[o++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? (char)c : '_';
    }
    out[o] = 0;
}

void sl_pg_default_name(const char *tenant, char *out, size_t outlen)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)(tenant ? tenant : ""); *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    char t[SL_PG_NAME_MAX + 1];
    sanitize(tenant, t, SL_PG_NAME_MAX - (sizeof "sluice_" - 1) - 9);
    snprintf(out, outlen, "sluice_%s_%08x", t, (unsigned)h);
}

void sl_pg_legacy_name(const char *tenant, char *out, size_t outlen)
{
    char t[SL_PG_NAME_MAX + 1];
    sanitize(tenant, t, SL_PG_NAME_MAX - (sizeof "sluice_" - 1));
    snprintf(out, outlen, "sluice_%s", t);
}

int sl_pg_pattern_literal(const char *pat)
{
    return pat && strpbrk(pat, "*?[") == NULL;
}

int sl_pg_pattern_match(const char *pat, const char *ns, const char *name)
{
    if (!pat)
        return 0;
    const char *dot = strchr(pat, '.');
    if (!dot)
        return strcmp(ns, "public") == 0 && fnmatch(pat, name, 0) == 0;
    char nsp[256];
    size_t nl = (size_t)(dot - pat);
    if (nl >= sizeof nsp)
        return 0;
    memcpy(nsp, pat, nl);
    nsp[nl] = 0;
    return fnmatch(nsp, ns, 0) == 0 && fnmatch(dot + 1, name, 0) == 0;
}

int sl_pg_sslmode_verified(const char *m)
{
    return m && (strcmp(m, "verify-full") == 0 || strcmp(m, "verify-ca") == 0);
}

sl_pg_slot_plan sl_pg_plan_slot(int have_resume, uint64_t resume, int st, uint64_t confirmed,
                                int snap_mode, int resnap, sl_pg_slot_why *why)
{
    *why = SL_PG_WHY_NONE;
    /* snap_mode 2 = always, 0 = initial (pgsrc.h) */
    if (snap_mode == 2 || (!have_resume && snap_mode == 0))
        return SL_PG_PLAN_SNAPSHOT;
    if (!have_resume)
        return st == SL_PG_SLOT_MISSING ? SL_PG_PLAN_CREATE_STREAM : SL_PG_PLAN_STREAM;
    if (st == SL_PG_SLOT_MISSING)
        *why = SL_PG_WHY_MISSING;
    else if (st == SL_PG_SLOT_LOST)
        *why = SL_PG_WHY_LOST;
    /* PostgreSQL starts streaming at max(requested, confirmed_flush_lsn) without a word: a slot
     * confirmed past the durable position would skip what lies between (a slot dropped and
     * re-created, or one another job advanced). Never resume with such a gap. */
    else if (confirmed > resume)
        *why = SL_PG_WHY_GAP;
    if (*why == SL_PG_WHY_NONE)
        return SL_PG_PLAN_STREAM;
    return resnap ? SL_PG_PLAN_RESNAP : SL_PG_PLAN_FAIL;
}
