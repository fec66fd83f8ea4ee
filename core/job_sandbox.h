/* The Lua sandbox a job file runs in: a fresh Lua 5.4 state per load with a memory cap, an
 * instruction limit, text-only chunks and a small set of globals (see docs/job-scripts.md).
 * Private to the job loader. */
#ifndef SL_JOB_SANDBOX_H
#define SL_JOB_SANDBOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#define SL_SANDBOX_MAX_MEMORY       (64u * 1024u * 1024u) /* bytes the Lua state may hold */
#define SL_SANDBOX_MAX_INSTRUCTIONS 10000000ull           /* VM instructions per job file */
#define SL_SANDBOX_MAX_SECONDS      3                     /* wall clock per job file */
#define SL_SANDBOX_MAX_SECRET       (64u * 1024u)         /* bytes secret_file() reads */

typedef struct sl_sandbox sl_sandbox;

/* path: the job file as the user gave it (secret_file() resolves relative paths against its
 * directory). NULL when out of memory. */
sl_sandbox *sl_sandbox_new(const char *path);
void sl_sandbox_free(sl_sandbox *sb);

/* Runs the chunk src[0..len). 0: the chunk's first return value is on top of the stack of
 * sl_sandbox_lua(). -1: *line (0 if unknown) and msg (one line, without "FILE:LINE: ") say why. */
int sl_sandbox_run(sl_sandbox *sb, const char *src, size_t len, int *line, char *msg,
                   size_t msglen);
lua_State *sl_sandbox_lua(sl_sandbox *sb);

/* What the constructors source{}/transform{}/sink{} stamped into the table at idx: the line of
 * the call and the constructor's name. 0 / NULL for a plain table. Raw access, never throws. */
int sl_sandbox_table_line(lua_State *L, int idx, const char **kind);
/* 1 if the value at idx is one of the private keys the constructors add. */
int sl_sandbox_is_private_key(lua_State *L, int idx);

#endif
