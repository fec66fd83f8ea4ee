/* pgrules.h - pure decisions of the postgres source (no libpq, no host): default slot and
 * publication names, the tables option's patterns, TLS modes and what to do with the slot at
 * open. Unit-tested in tests/postgres/test_pgrules.c. */
#ifndef SL_PGRULES_H
#define SL_PGRULES_H

#include <stddef.h>
#include <stdint.h>

/* Longest identifier PostgreSQL keeps (NAMEDATALEN - 1). */
#define SL_PG_NAME_MAX 63

/* "sluice_<tenant>_<hash>": the tenant lowercased with other characters than [a-z0-9_] as '_'
 * (cut so the whole stays within 63 bytes), then 8 hex digits of FNV-1a-32 of the exact tenant
 * text, so "acme-eu" and "acme.eu" get different names. out needs SL_PG_NAME_MAX + 1 bytes. */
void sl_pg_default_name(const char *tenant, char *out, size_t outlen);

/* The pre-hash default ("sluice_<sanitized tenant>"), only to point users with an older slot at
 * the slot option. */
void sl_pg_legacy_name(const char *tenant, char *out, size_t outlen);

/* 1 when a tables entry has no wildcard (*, ?, [): it names one table, which must exist. */
int sl_pg_pattern_literal(const char *pat);

/* 1 when the entry (schema.table, or a bare name meaning public.name; fnmatch patterns) matches. */
int sl_pg_pattern_match(const char *pat, const char *ns, const char *name);

/* 1 when sslmode verifies the server (verify-ca, verify-full). */
int sl_pg_sslmode_verified(const char *sslmode);

/* What open does with the slot. */
typedef enum sl_pg_slot_plan {
    SL_PG_PLAN_STREAM = 0,        /* stream from the existing slot */
    SL_PG_PLAN_CREATE_STREAM = 1, /* snapshot = never and no slot yet: create one, stream */
    SL_PG_PLAN_SNAPSHOT = 2,      /* (re-)create the slot and copy the tables */
    SL_PG_PLAN_RESNAP = 3,        /* the slot cannot continue the durable position: re-copy */
    SL_PG_PLAN_FAIL = 4,          /* the same without permission to re-copy: stop */
} sl_pg_slot_plan;

/* Why the slot cannot continue the durable position (RESNAP/FAIL). */
typedef enum sl_pg_slot_why {
    SL_PG_WHY_NONE = 0,
    SL_PG_WHY_MISSING = 1, /* no such slot */
    SL_PG_WHY_LOST = 2,    /* wal_status = 'lost' */
    SL_PG_WHY_GAP = 3,     /* confirmed_flush_lsn past the durable position: another slot */
} sl_pg_slot_why;

enum { SL_PG_SLOT_MISSING = 0, SL_PG_SLOT_OK = 1, SL_PG_SLOT_LOST = 2 };

/* snap_mode: SL_PG_SNAP_* of pgsrc.h (0 initial, 1 never, 2 always). confirmed: the slot's
 * confirmed_flush_lsn (0 unknown). */
sl_pg_slot_plan sl_pg_plan_slot(int have_resume, uint64_t resume, int slot_state,
                                uint64_t confirmed, int snap_mode, int resnap, sl_pg_slot_why *why);

#endif
