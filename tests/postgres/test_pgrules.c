/* Unit tests of the postgres source's pure rules (pgrules.c): default slot/publication names,
 * the tables option's patterns, TLS modes and the slot plan at open. */
#include "pgrules.h"
#include "sl_test.h"

static void test_names(void)
{
    char a[SL_PG_NAME_MAX + 1], b[SL_PG_NAME_MAX + 1];
    sl_pg_default_name("acme-eu", a, sizeof a);
    sl_pg_default_name("acme.eu", b, sizeof b);
    CHECK(strncmp(a, "sluice_acme_eu_", 15) == 0 && strlen(a) == 15 + 8);
    CHECK(strncmp(b, "sluice_acme_eu_", 15) == 0 && strlen(b) == 15 + 8);
    CHECK(strcmp(a, b) != 0); /* the collision of issue 9 item 4 */
    sl_pg_default_name("ACME-EU", b, sizeof b);
    CHECK(strcmp(a, b) != 0); /* case matters in the tenant, so it matters in the hash */
    /* Stable across versions: a new derivation would orphan every deployed slot. FNV-1a-32. */
    sl_pg_default_name("acme", a, sizeof a);
    CHECK_EQ_STR(a, "sluice_acme_45fd71af");
    sl_pg_default_name("", a, sizeof a);
    CHECK_EQ_STR(a, "sluice__811c9dc5");
    /* Long tenants: cut to PostgreSQL's 63 bytes, hash kept whole, still distinct. */
    char t1[200], t2[200];
    memset(t1, 'x', 150);
    t1[150] = 0;
    memcpy(t2, t1, 151);
    t2[149] = 'y';
    sl_pg_default_name(t1, a, sizeof a);
    sl_pg_default_name(t2, b, sizeof b);
    CHECK_EQ_INT(strlen(a), SL_PG_NAME_MAX);
    CHECK_EQ_INT(strlen(b), SL_PG_NAME_MAX);
    CHECK(strcmp(a, b) != 0);
    for (const char *p = a; *p; p++)
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
    sl_pg_default_name("Ünïcode tenant/1", a, sizeof a);
    for (const char *p = a; *p; p++)
        CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
    sl_pg_legacy_name("Acme-EU", a, sizeof a);
    CHECK_EQ_STR(a, "sluice_acme_eu");
}

static void test_patterns(void)
{
    CHECK(sl_pg_pattern_literal("t1"));
    CHECK(sl_pg_pattern_literal("sales.orders"));
    CHECK(!sl_pg_pattern_literal("sales.*"));
    CHECK(!sl_pg_pattern_literal("t?"));
    CHECK(!sl_pg_pattern_literal("t[12]"));
    CHECK(sl_pg_pattern_match("t1", "public", "t1"));
    CHECK(!sl_pg_pattern_match("t1", "sales", "t1")); /* bare names mean public */
    CHECK(sl_pg_pattern_match("sales.*", "sales", "x"));
    CHECK(!sl_pg_pattern_match("sales.*", "public", "x"));
    CHECK(sl_pg_pattern_match("s*.o?", "sales", "o1"));
    CHECK(!sl_pg_pattern_match("T1", "public", "t1")); /* exact names: case matters */
    CHECK(!sl_pg_pattern_match(NULL, "public", "t1"));
}

static void test_sslmode(void)
{
    CHECK(sl_pg_sslmode_verified("verify-full"));
    CHECK(sl_pg_sslmode_verified("verify-ca"));
    CHECK(!sl_pg_sslmode_verified("require"));
    CHECK(!sl_pg_sslmode_verified("prefer"));
    CHECK(!sl_pg_sslmode_verified("disable"));
    CHECK(!sl_pg_sslmode_verified(NULL));
}

static void test_plan(void)
{
    sl_pg_slot_why why;
    enum { INITIAL = 0, NEVER = 1, ALWAYS = 2 };
    /* No durable position: copy (initial) or stream (never). */
    CHECK_EQ_INT(sl_pg_plan_slot(0, 0, SL_PG_SLOT_MISSING, 0, INITIAL, 0, &why),
                 SL_PG_PLAN_SNAPSHOT);
    CHECK_EQ_INT(sl_pg_plan_slot(0, 0, SL_PG_SLOT_OK, 500, INITIAL, 0, &why), SL_PG_PLAN_SNAPSHOT);
    CHECK_EQ_INT(sl_pg_plan_slot(0, 0, SL_PG_SLOT_MISSING, 0, NEVER, 0, &why),
                 SL_PG_PLAN_CREATE_STREAM);
    CHECK_EQ_INT(sl_pg_plan_slot(0, 0, SL_PG_SLOT_OK, 500, NEVER, 0, &why), SL_PG_PLAN_STREAM);
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_OK, 500, ALWAYS, 0, &why), SL_PG_PLAN_SNAPSHOT);
    /* The slot continues the position: confirmed at or before it (a crash after the manifest
     * but before the standby status leaves confirmed behind; that is fine). */
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_OK, 100, INITIAL, 0, &why), SL_PG_PLAN_STREAM);
    CHECK_EQ_INT(why, SL_PG_WHY_NONE);
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_OK, 40, INITIAL, 0, &why), SL_PG_PLAN_STREAM);
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_OK, 0, NEVER, 0, &why), SL_PG_PLAN_STREAM);
    /* A gap: another slot under the same name. Never stream across it. */
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_OK, 101, INITIAL, 0, &why), SL_PG_PLAN_FAIL);
    CHECK_EQ_INT(why, SL_PG_WHY_GAP);
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_OK, 101, NEVER, 1, &why), SL_PG_PLAN_RESNAP);
    CHECK_EQ_INT(why, SL_PG_WHY_GAP);
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_MISSING, 0, INITIAL, 0, &why), SL_PG_PLAN_FAIL);
    CHECK_EQ_INT(why, SL_PG_WHY_MISSING);
    CHECK_EQ_INT(sl_pg_plan_slot(1, 100, SL_PG_SLOT_LOST, 50, INITIAL, 1, &why), SL_PG_PLAN_RESNAP);
    CHECK_EQ_INT(why, SL_PG_WHY_LOST);
}

int main(void)
{
    SL_RUN(test_names);
    SL_RUN(test_patterns);
    SL_RUN(test_sslmode);
    SL_RUN(test_plan);
    SL_DONE();
}
