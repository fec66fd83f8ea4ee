/* Sandboxed evaluation of one job file. Nothing from the process leaks into the Lua state except
 * what env() and secret_file() hand out; nothing the script does can run longer than the
 * instruction limit or hold more than the memory cap. */
#include "job_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Lua never sees this name: messages from the chunk start with "job:LINE: " and the loader
 * rewrites that prefix to the path the user gave (which may be longer than LUA_IDSIZE). */
#define SB_CHUNKNAME "=job"
#define SB_PREFIX    "job:"
#define SB_HOOK_STEP 1000
#define SB_STR(x)    #x
#define SB_XSTR(x)   SB_STR(x)
#define SB_TOO_MANY  "more than 10000000 instructions"
_Static_assert(SL_SANDBOX_MAX_INSTRUCTIONS == 10000000ull, "SB_TOO_MANY names the limit");
#define SB_TOO_SLOW "more than " SB_XSTR(SL_SANDBOX_MAX_SECONDS) " seconds"

static void sb_hook(lua_State *L, lua_Debug *ar);

struct sl_sandbox {
    lua_State *L;
    size_t used;
    size_t limit;
    int mem_refused;         /* an allocation was refused because of the cap */
    uint64_t instructions;   /* VM instructions in steps of SB_HOOK_STEP, plus metered work */
    double started;          /* CLOCK_MONOTONIC seconds when the chunk started */
    const char *out_of_time; /* why the script was stopped, NULL while it may run */
    int line;  /* last line the chunk executed (line hook), for errors without a position */
    char *dir; /* directory of the job file, "" for the current one */
};

/* Private keys the constructors stamp into their table. Lightuserdata: Lua code cannot make one,
 * so a job file cannot forge or collide with them. */
static const char sb_keys[2] = {0, 0};
#define SB_KEY_LINE ((void *)&sb_keys[0])
#define SB_KEY_KIND ((void *)&sb_keys[1])

static sl_sandbox *sb_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sl_sandbox *sb = ud;
    size_t old = ptr ? osize : 0; /* with ptr == NULL, osize is a type tag, not a size */
    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > sb->limit - sb->used) {
        sb->mem_refused = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (!p) {
        sb->mem_refused = 1;
        return NULL;
    }
    sb->used = sb->used - old + nsize;
    return p;
}

static double sb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Raises "took too long". From the first time on every instruction fails, so a pcall in the
 * script cannot swallow the error and keep looping: the first instruction outside any pcall
 * raises it again. */
static int sb_out_of_time(lua_State *L, sl_sandbox *sb, const char *why)
{
    if (!sb->out_of_time) {
        sb->out_of_time = why;
        lua_sethook(L, sb_hook, LUA_MASKCOUNT | LUA_MASKLINE, 1);
    }
    lua_pushfstring(L, SB_PREFIX "%d: job script took too long (%s)", sb->line, sb->out_of_time);
    return lua_error(L);
}

/* Adds work done inside library functions to the instruction count. */
static void sb_charge(lua_State *L, uint64_t units)
{
    sl_sandbox *sb = sb_of(L);
    if (units > SL_SANDBOX_MAX_INSTRUCTIONS - sb->instructions) {
        sb->instructions = SL_SANDBOX_MAX_INSTRUCTIONS;
        sb_out_of_time(L, sb, SB_TOO_MANY);
    }
    sb->instructions += units;
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    sl_sandbox *sb = sb_of(L);
    if (ar->event == LUA_HOOKLINE) {
        sb->line = ar->currentline;
        return;
    }
    if (ar->event != LUA_HOOKCOUNT) {
        return;
    }
    if (sb->out_of_time) {
        sb_out_of_time(L, sb, sb->out_of_time);
    }
    sb_charge(L, SB_HOOK_STEP);
    /* A loop of library calls, each bounded by the memory cap but not free (comparing two
     * 30 MB strings is one instruction), is caught by the clock. */
    if (sb_now() - sb->started > SL_SANDBOX_MAX_SECONDS) {
        sb_out_of_time(L, sb, SB_TOO_SLOW);
    }
}

/* string.rep("", math.maxinteger) and table.move({}, 1, math.maxinteger, 2) loop once per
 * repetition / element while producing nothing, inside one C call the hook never interrupts:
 * charge those loops before running them. Work that produces bytes is bounded by the memory cap
 * (the result is allocated before the loop). Upvalue 1: the library function. */
static int sb_metered_rep(lua_State *L)
{
    size_t l = 0, lsep = 0;
    luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    if (n > 0 && l + lsep == 0) {
        sb_charge(L, (uint64_t)n);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static int sb_metered_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
    if (e >= f) {
        sb_charge(L, (uint64_t)e - (uint64_t)f + 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* env("NAME" [, default]) */
static int sb_env(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *dflt = luaL_optstring(L, 2, NULL);
    const char *v = getenv(name);
    if (!v && !dflt) {
        return luaL_error(L, "env(\"%s\") is not set", name);
    }
    lua_pushstring(L, v ? v : dflt);
    return 1;
}

static int sb_secret_fail(lua_State *L, const char *arg, const char *path, const char *why)
{
    if (strcmp(arg, path) != 0) {
        return luaL_error(L, "secret_file(\"%s\"): %s: %s", arg, path, why);
    }
    return luaL_error(L, "secret_file(\"%s\"): %s", arg, why);
}

/* secret_file("path"): the file's content without one trailing newline. */
static int sb_secret_file(lua_State *L)
{
    sl_sandbox *sb = sb_of(L);
    const char *arg = luaL_checkstring(L, 1);
    const char *path = arg;
    if (arg[0] != '/' && sb->dir[0]) {
        path = lua_pushfstring(L, "%s/%s", sb->dir, arg);
    }
    /* Every Lua allocation happens before open() so no error can leak the descriptor. */
    luaL_Buffer b;
    char *buf = luaL_buffinitsize(L, &b, SL_SANDBOX_MAX_SECRET + 1);
    char why[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        return sb_secret_fail(L, arg, path, strerror_r(errno, why, sizeof why));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sb_secret_fail(L, arg, path, "not a regular file");
    }
    size_t n = 0;
    while (n < SL_SANDBOX_MAX_SECRET + 1) {
        ssize_t r = read(fd, buf + n, SL_SANDBOX_MAX_SECRET + 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            close(fd);
            return sb_secret_fail(L, arg, path, strerror_r(e, why, sizeof why));
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    if (n > SL_SANDBOX_MAX_SECRET) {
        return sb_secret_fail(L, arg, path, "larger than 64 KiB");
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }
    luaL_pushresultsize(&b, n);
    return 1;
}

/* source{...}, transform{...}, sink{...}, notifier{...}: the table itself, stamped with the
 * caller's line. */
static int sb_ctor(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_Debug ar;
    int line = 0;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)) {
        line = ar.currentline;
    }
    lua_pushinteger(L, line);
    lua_rawsetp(L, 1, SB_KEY_LINE);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_rawsetp(L, 1, SB_KEY_KIND);
    return 1;
}

static const char *const sb_removed_globals[] = {
    "os",     "io",    "require",        "package", "load",         "loadstring",   "loadfile",
    "dofile", "debug", "collectgarbage", "print",   "setmetatable", "getmetatable", "coroutine",
    "_G",     NULL,
};

/* Reading an undefined global is an error: a forgotten quote (tenant = acme) or a removed
 * library then points at the line instead of surfacing later as a missing value. */
static int sb_env_index(lua_State *L)
{
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    if (!k) {
        return luaL_error(L, "undefined global");
    }
    for (size_t i = 0; sb_removed_globals[i]; i++) {
        if (strcmp(k, sb_removed_globals[i]) == 0) {
            return luaL_error(L, "%s is not available in job scripts", k);
        }
    }
    return luaL_error(L, "undefined global \"%s\"", k);
}

/* Removed from the string library: dump (bytecode) and the pattern functions, because one
 * pattern call can backtrack for hours inside C where the instruction limit never looks. */
static const char *const sb_removed_string[] = {"dump", "find", "match", "gmatch", "gsub", NULL};

static int sb_string_index(lua_State *L)
{
    const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
    for (size_t i = 0; k && sb_removed_string[i]; i++) {
        if (strcmp(k, sb_removed_string[i]) == 0) {
            return luaL_error(L, "string.%s is not available in job scripts", k);
        }
    }
    return 0;
}

static const char *const sb_base_globals[] = {
    "assert", "error",    "ipairs",   "next",     "pairs",  "pcall",
    "select", "tonumber", "tostring", "type",     "xpcall", "rawequal",
    "rawget", "rawlen",   "rawset",   "_VERSION", NULL,
};

/* Protected: opens the allowed libraries, builds the script's environment, loads and runs the
 * chunk. Arguments: source pointer (lightuserdata), length. */
static int sb_setup(lua_State *L)
{
    const char *src = lua_touserdata(L, 1);
    size_t len = (size_t)lua_tointeger(L, 2);
    lua_settop(L, 0);

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);        /* 1: the real globals, never shown */
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0); /* 2 */
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);  /* 3 */
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);  /* 4 */
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);  /* 5 */

    lua_newtable(L); /* 6: the script's _ENV */
    for (size_t i = 0; sb_base_globals[i]; i++) {
        lua_getfield(L, 1, sb_base_globals[i]);
        lua_setfield(L, 6, sb_base_globals[i]);
    }
    /* The string table is also the __index of every string's metatable, so removing from it
     * covers ("x"):dump() too. */
    for (size_t i = 0; sb_removed_string[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, 2, sb_removed_string[i]);
    }
    lua_getfield(L, 2, "rep");
    lua_pushcclosure(L, sb_metered_rep, 1);
    lua_setfield(L, 2, "rep");
    lua_getfield(L, 3, "move");
    lua_pushcclosure(L, sb_metered_move, 1);
    lua_setfield(L, 3, "move");
    lua_newtable(L);
    lua_pushcfunction(L, sb_string_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, 2);
    lua_pushvalue(L, 2);
    lua_setfield(L, 6, "string");
    lua_pushvalue(L, 3);
    lua_setfield(L, 6, "table");
    lua_pushvalue(L, 4);
    lua_setfield(L, 6, "math");
    lua_pushvalue(L, 5);
    lua_setfield(L, 6, "utf8");

    static const char *const kinds[] = {"source", "transform", "sink", "notifier"};
    for (size_t i = 0; i < 4; i++) {
        lua_pushstring(L, kinds[i]);
        lua_pushcclosure(L, sb_ctor, 1);
        lua_setfield(L, 6, kinds[i]);
    }
    lua_pushcfunction(L, sb_env);
    lua_setfield(L, 6, "env");
    lua_pushcfunction(L, sb_secret_file);
    lua_setfield(L, 6, "secret_file");

    lua_newtable(L);
    lua_pushcfunction(L, sb_env_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, 6);

    /* "t": text only, precompiled bytecode can crash the VM. */
    if (luaL_loadbufferx(L, src, len, SB_CHUNKNAME, "t") != LUA_OK) {
        return lua_error(L);
    }
    lua_pushvalue(L, 6);
    if (!lua_setupvalue(L, -2, 1)) {
        return luaL_error(L, "job chunk has no _ENV");
    }
    sl_sandbox *sb = sb_of(L);
    sb->started = sb_now();
    lua_sethook(L, sb_hook, LUA_MASKCOUNT | LUA_MASKLINE, SB_HOOK_STEP);
    lua_call(L, 0, 1);
    lua_sethook(L, NULL, 0, 0);
    return 1;
}

/* Message handler: errors are one line, so no traceback; a non-string error gets a text. */
static int sb_msgh(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushfstring(L, "error object is a %s value", luaL_typename(L, 1));
    }
    return 1;
}

sl_sandbox *sl_sandbox_new(const char *path)
{
    sl_sandbox *sb = calloc(1, sizeof *sb);
    if (!sb) {
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    if (slash && dlen == 0) {
        dlen = 1; /* "/job.lua": the root */
    }
    sb->dir = strndup(path, dlen);
    sb->limit = SL_SANDBOX_MAX_MEMORY;
    sb->L = sb->dir ? lua_newstate(sb_alloc, sb) : NULL;
    if (!sb->L) {
        free(sb->dir);
        free(sb);
        return NULL;
    }
    return sb;
}

void sl_sandbox_free(sl_sandbox *sb)
{
    if (!sb) {
        return;
    }
    lua_close(sb->L);
    free(sb->dir);
    free(sb);
}

lua_State *sl_sandbox_lua(sl_sandbox *sb)
{
    return sb->L;
}

/* "job:12: msg" -> 12, "msg". Returns the message without the prefix. */
static const char *sb_strip_prefix(const char *m, int *line)
{
    size_t pl = strlen(SB_PREFIX);
    if (strncmp(m, SB_PREFIX, pl) != 0) {
        return m;
    }
    const char *p = m + pl;
    long v = 0;
    if (*p < '0' || *p > '9') {
        return m;
    }
    while (*p >= '0' && *p <= '9' && v < 100000000) {
        v = v * 10 + (*p++ - '0');
    }
    if (p[0] != ':' || p[1] != ' ') {
        return m;
    }
    *line = (int)v;
    return p + 2;
}

int sl_sandbox_run(sl_sandbox *sb, const char *src, size_t len, int *line, char *msg, size_t msglen)
{
    lua_State *L = sb->L;
    *line = 0;
    lua_settop(L, 0);
    lua_pushcfunction(L, sb_msgh);
    lua_pushcfunction(L, sb_setup);
    lua_pushlightuserdata(L, (void *)src);
    lua_pushinteger(L, (lua_Integer)len);
    int st = lua_pcall(L, 2, 1, 1);
    lua_sethook(L, NULL, 0, 0);
    /* No script code runs any more; reading the result must not fail on the cap. */
    sb->limit = (size_t)-1;
    if (st == LUA_OK) {
        lua_remove(L, 1);
        return 0;
    }
    const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error";
    if (st == LUA_ERRMEM || (sb->mem_refused && (strcmp(m, "not enough memory") == 0 ||
                                                 strcmp(m, "error in error handling") == 0))) {
        *line = sb->line;
        snprintf(msg, msglen, "job script used too much memory (more than %u MiB)",
                 SL_SANDBOX_MAX_MEMORY >> 20);
    } else {
        int l = 0;
        const char *rest = sb_strip_prefix(m, &l);
        *line = rest != m ? l : sb->line;
        snprintf(msg, msglen, "%s", rest);
        /* One line per problem: a multi-line user error is cut at its first newline. */
        msg[strcspn(msg, "\n")] = '\0';
        /* A script's error text must not drive the terminal that shows it. */
        for (char *p = msg; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                *p = '?';
            }
        }
    }
    lua_settop(L, 0);
    return -1;
}

int sl_sandbox_table_line(lua_State *L, int idx, const char **kind)
{
    int line = 0;
    *kind = NULL;
    idx = lua_absindex(L, idx);
    if (lua_rawgetp(L, idx, SB_KEY_LINE) == LUA_TNUMBER) {
        line = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    if (lua_rawgetp(L, idx, SB_KEY_KIND) == LUA_TSTRING) {
        /* The kind string stays alive: the table holds it. */
        *kind = lua_tostring(L, -1);
    }
    lua_pop(L, 1);
    return line;
}

int sl_sandbox_is_private_key(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TLIGHTUSERDATA) {
        return 0;
    }
    void *p = lua_touserdata(L, idx);
    return p == SB_KEY_LINE || p == SB_KEY_KIND;
}
