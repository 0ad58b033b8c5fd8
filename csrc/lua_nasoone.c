/*
 * lua_nasoone.c - the Lua 5.4 module nasoone.core: the only file that includes lua.h.
 *
 * Every function here runs on the Lua thread that owns the state. The engine's threads never
 * see Lua values: they publish plain C snapshots, which wait/poll/stop turn into tables (or,
 * with rows = "lazy" or "changed", wrap in a report userdata that reads them in place) and
 * hand to the on_report callback here. The callback is kept in the userdata's user value.
 *
 * One error rule for every call, as in luv and lua-cjson: misuse (a wrong type, a value out of
 * range) raises with the argument's position; a failure of the environment or of the state
 * the caller can meet in normal use returns nil, "nasoone: ...", code (a stable string:
 * nasoone_error_code).
 */
#include <errno.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <lauxlib.h>
#include <lua.h>

#include "nasoone.h"
#include "report_reader.h"

#define CAPTURE_TYPE          "nasoone.capture"
#define REPORT_TYPE           "nasoone.report"
#define NASOONE_STRINGIFY_(x) #x
#define NASOONE_STRINGIFY(x)  NASOONE_STRINGIFY_(x)
#define ERR_SIZE              NASOONE_MESSAGE_SIZE

/* How on_report hands rows to its callback (cap:on_report(fn, { rows = ... })). */
enum report_rows {
    REPORT_ROWS_TABLES,  /* report.rows: a table per row, built before the callback runs */
    REPORT_ROWS_LAZY,    /* a report userdata over the C snapshot: rows built when asked for */
    REPORT_ROWS_CHANGED, /* the same, over the rows that differ from the previous report */
};

struct lua_capture {
    nasoone_capture *capture; /* NULL once closed */
    enum report_rows report_rows;
    /* rows = "changed": the last report delivered, what the next one is compared with */
    struct nasoone_snapshot *previous;
    /* deliveries so far: tells a callback's delivery that a nested one (poll or wait called
     * from the callback) replaced `previous` meanwhile */
    uint64_t deliveries;
    /* export failures (stats.exports[i].errors, summed) already returned by wait or poll */
    uint64_t export_errors_seen;
    /* set_community_id: the seed of the community_id field of 5-tuple rows given as tables
     * (on_report's rows = "tables", on_flows' records); -1: no such field */
    int community_seed;
};

static struct lua_capture *check_lua_capture(lua_State *L)
{
    return luaL_checkudata(L, 1, CAPTURE_TYPE);
}

/* The engine object of argument 1; raises if it was closed. */
static nasoone_capture *check_open_capture(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    if (handle->capture == NULL)
        luaL_error(L, "nasoone: the capture is closed");
    return handle->capture;
}

/* Pushes nil, message and returns 2: the failure shape of every fallible call. */
static int push_failure(lua_State *L, const char *message)
{
    luaL_pushfail(L);
    lua_pushstring(L, message);
    return 2;
}

/* nil, message, code: a failed engine call on the capture at index 1. */
static int push_engine_failure(lua_State *L, const char *err)
{
    struct lua_capture *handle = luaL_checkudata(L, 1, CAPTURE_TYPE);
    const char *code = handle->capture ? nasoone_error_code(handle->capture) : NULL;
    push_failure(L, err);
    lua_pushstring(L, code ? code : "error");
    return 3;
}

/* Converts an engine status: `self` (for chaining) or nil, message, code. */
static int push_status(lua_State *L, int status, const char *err)
{
    if (status != 0)
        return push_engine_failure(L, err);
    lua_settop(L, 1);
    return 1;
}

static int capture_new(lua_State *L)
{
    /* The userdata exists (closed) with its metatable before the engine object is made, so a
     * failure below leaves nothing __gc cannot handle. */
    /* user values: 1 the on_report callback, 2 the on_flows callback */
    struct lua_capture *handle = lua_newuserdatauv(L, sizeof *handle, 2);
    handle->capture = NULL;
    handle->report_rows = REPORT_ROWS_TABLES;
    handle->previous = NULL;
    handle->deliveries = 0;
    handle->export_errors_seen = 0;
    handle->community_seed = -1;
    luaL_setmetatable(L, CAPTURE_TYPE);
    handle->capture = nasoone_capture_new();
    if (handle->capture == NULL)
        return luaL_error(L, "nasoone: out of memory or descriptors for a new capture");
    return 1;
}

/* luaL_checkstring for what reaches C as a C string (a path, a device, a filter): a NUL byte
 * inside would silently cut it ("a\0b" would write "a"), so it is misuse, raised. */
static const char *check_text(lua_State *L, int arg)
{
    size_t length;
    const char *text = luaL_checklstring(L, arg, &length);
    if (strlen(text) != length)
        luaL_argerror(L, arg, "a string with a NUL byte inside");
    return text;
}

typedef int (*string_setter)(nasoone_capture *, const char *, char *, size_t);

static int call_string_setter(lua_State *L, string_setter setter)
{
    nasoone_capture *capture = check_open_capture(L);
    const char *value = check_text(L, 2);
    char err[ERR_SIZE];
    return push_status(L, setter(capture, value, err, sizeof err), err);
}

/* cap:set_capture_file(path) or cap:set_capture_file{ path, path, ... } (read as one) */
static int capture_set_capture_file(lua_State *L)
{
    if (!lua_istable(L, 2))
        return call_string_setter(L, nasoone_set_capture_file);
    nasoone_capture *capture = check_open_capture(L);
    size_t count = (size_t)luaL_len(L, 2);
    luaL_argcheck(L, count > 0, 2, "an empty list of capture files");
    const char **paths = lua_newuserdatauv(L, count * sizeof *paths, 0); /* freed by the GC */
    for (size_t i = 0; i < count; i++) {
        lua_geti(L, 2, (lua_Integer)i + 1);
        size_t length;
        paths[i] = lua_tolstring(L, -1, &length);
        if (lua_type(L, -1) != LUA_TSTRING || strlen(paths[i]) != length)
            return luaL_argerror(
                L, 2,
                lua_pushfstring(L, "item %d is not a path (a string without NUL bytes)",
                                (int)i + 1));
        lua_pop(L, 1); /* the table keeps the string alive */
    }
    char err[ERR_SIZE];
    return push_status(L, nasoone_set_capture_files(capture, paths, count, err, sizeof err), err);
}

/* Raises an argument error for a key of the options table at `index` that is not in `known`
 * (NULL-terminated): unknown keys are typos, and a typo silently ignored is a wrong capture. */
static void check_option_names(lua_State *L, int index, const char *const *known, const char *what)
{
    lua_pushnil(L);
    while (lua_next(L, index) != 0) {
        int found = 0;
        for (size_t i = 0; known[i] != NULL && lua_type(L, -2) == LUA_TSTRING; i++)
            found |= strcmp(lua_tostring(L, -2), known[i]) == 0;
        if (!found)
            luaL_argerror(
                L, index,
                lua_pushfstring(L, "unknown %s option '%s'", what,
                                lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?"));
        lua_pop(L, 1);
    }
}

/* Reads an optional field of the options table at index 3. */
static int option_integer(lua_State *L, const char *name, int fallback, lua_Integer max)
{
    int type = lua_getfield(L, 3, name);
    int value = fallback;
    if (type != LUA_TNIL) {
        int ok;
        lua_Integer n = lua_tointegerx(L, -1, &ok);
        if (!ok || n < 0 || n > max)
            luaL_argerror(
                L, 3, lua_pushfstring(L, "option %s must be an integer from 0 to %I", name, max));
        value = (int)n;
    }
    lua_pop(L, 1);
    return value;
}

static int option_boolean(lua_State *L, const char *name, int fallback)
{
    int type = lua_getfield(L, 3, name);
    int value = fallback;
    if (type != LUA_TNIL) {
        if (type != LUA_TBOOLEAN)
            luaL_argerror(L, 3, lua_pushfstring(L, "option %s must be a boolean", name));
        value = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    return value;
}

/* cap:set_capture_device(name [, {snaplen=, promiscuous=, buffer_size=, immediate=,
 * timestamp_precision="micro"|"nano", timeout=seconds}]) -> cap, or nil, message, code */
static int capture_set_capture_device(lua_State *L)
{
    static const char *const known[] = {"snaplen",   "promiscuous",         "buffer_size",
                                        "immediate", "timestamp_precision", "timeout",
                                        NULL};
    nasoone_capture *capture = check_open_capture(L);
    /* a name, or a list of them: several devices as one capture */
    const char *names[NASOONE_MAX_DEVICES];
    size_t count = 1;
    if (lua_type(L, 2) == LUA_TTABLE) {
        count = lua_rawlen(L, 2);
        luaL_argcheck(
            L, count >= 1 && count <= NASOONE_MAX_DEVICES, 2,
            "a list of 1 to " NASOONE_STRINGIFY(NASOONE_MAX_DEVICES) " device names expected");
        for (size_t i = 0; i < count; i++) {
            lua_rawgeti(L, 2, (lua_Integer)i + 1);
            names[i] = lua_tostring(L, -1);
            luaL_argcheck(L, lua_type(L, -1) == LUA_TSTRING && names[i][0] != '\0', 2,
                          "a list of device names expected");
            lua_pop(L, 1); /* the string stays alive in the table */
        }
    } else {
        names[0] = check_text(L, 2);
    }
    struct nasoone_device_options options;
    nasoone_device_options_init(&options);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        check_option_names(L, 3, known, "device");
        options.snaplen = option_integer(L, "snaplen", options.snaplen, 262144);
        options.promiscuous = option_boolean(L, "promiscuous", options.promiscuous);
        options.buffer_size = option_integer(L, "buffer_size", options.buffer_size, INT32_MAX);
        options.immediate = option_boolean(L, "immediate", options.immediate);
        if (lua_getfield(L, 3, "timestamp_precision") != LUA_TNIL) {
            const char *precision = lua_tostring(L, -1);
            if (precision == NULL || (strcmp(precision, "micro") && strcmp(precision, "nano")))
                return luaL_argerror(L, 3, "option timestamp_precision must be 'micro' or 'nano'");
            options.nanosecond = strcmp(precision, "nano") == 0;
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 3, "timeout") != LUA_TNIL) {
            lua_Number seconds = lua_tonumber(L, -1);
            if (!lua_isnumber(L, -1) || !(seconds >= 0) || seconds > 60)
                return luaL_argerror(L, 3,
                                     "option timeout must be a number of seconds from 0 to 60");
            options.timeout_ms = (int)(seconds * 1000);
        }
        lua_pop(L, 1);
    }
    char err[ERR_SIZE];
    return push_status(
        L, nasoone_set_capture_devices(capture, names, count, &options, err, sizeof err), err);
}

/* cap:set_output(path [, { format = "csv" | "jsonl", columns = "seed" | "extended" }]):
 * columns says which CSV: the seed's nine columns, or those and more (C format "csv-extended") */
static int capture_set_output(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    const char *path = check_text(L, 2);
    const char *format = "csv";
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        check_option_names(L, 3, (const char *const[]){"format", "columns", NULL}, "set_output");
        if (lua_getfield(L, 3, "format") != LUA_TNIL) {
            format = lua_tostring(L, -1);
            if (lua_type(L, -1) != LUA_TSTRING ||
                (strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0))
                return luaL_argerror(L, 3, "option format must be 'csv' or 'jsonl'");
        }
        if (lua_getfield(L, 3, "columns") != LUA_TNIL) {
            const char *columns = lua_tostring(L, -1);
            if (lua_type(L, -1) != LUA_TSTRING ||
                (strcmp(columns, "seed") != 0 && strcmp(columns, "extended") != 0))
                return luaL_argerror(L, 3, "option columns must be 'seed' or 'extended'");
            if (strcmp(format, "csv") != 0)
                return luaL_argerror(L, 3,
                                     "option columns is the CSV's (JSON lines have every field)");
            if (strcmp(columns, "extended") == 0)
                format = "csv-extended";
        }
    }
    char err[ERR_SIZE];
    if (nasoone_set_output(capture, path, err, sizeof err) != 0 ||
        nasoone_set_output_format(capture, format, err, sizeof err) != 0)
        return push_engine_failure(L, err);
    lua_settop(L, 1);
    return 1;
}

/* A seconds option (> 0, fractions allowed) as milliseconds; 0 when absent. */
static uint64_t option_milliseconds(lua_State *L, int index, const char *name)
{
    lua_getfield(L, index, name);
    uint64_t ms = 0;
    if (!lua_isnil(L, -1)) {
        int is_number = 0;
        lua_Number seconds = lua_tonumberx(L, -1, &is_number);
        if (!is_number || !(seconds >= 0.001) || seconds > 1e9)
            luaL_argerror(L, index,
                          lua_pushfstring(
                              L, "%s must be a number of seconds from 0.001 to 1000000000", name));
        ms = (uint64_t)(seconds * 1000 + 0.5);
    }
    lua_pop(L, 1);
    return ms;
}

/* cap:set_flow_limits{ idle_timeout = s, active_timeout = s, max_flows = n }: each optional */
static int capture_set_flow_limits(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    check_option_names(L, 2,
                       (const char *const[]){"idle_timeout", "active_timeout", "max_flows", NULL},
                       "flow limit");
    struct nasoone_flow_limits limits = {0, 0, 0};
    limits.idle_timeout_ms = option_milliseconds(L, 2, "idle_timeout");
    limits.active_timeout_ms = option_milliseconds(L, 2, "active_timeout");
    if (lua_getfield(L, 2, "max_flows") != LUA_TNIL) {
        int is_integer = 0;
        lua_Integer max = lua_tointegerx(L, -1, &is_integer);
        if (!is_integer || max < 1 || max > 1000000000)
            return luaL_argerror(L, 2, "max_flows must be an integer from 1 to 1000000000");
        limits.max_flows = (uint32_t)max;
    }
    char err[ERR_SIZE];
    if (nasoone_set_flow_limits(capture, &limits, err, sizeof err) != 0)
        return push_engine_failure(L, err);
    lua_settop(L, 1);
    return 1;
}

/* cap:add_export(kind, target [, options]): kind "jsonl" (a path pattern; { rotate = s }) or
 * "ipfix" ("udp://host:port" or "file:PATH"; { domain =, mtu =, template_resend = }). Each kind
 * checks its own options (record_sink.h): this passes the table on by name. */
static int capture_add_export(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    const char *kind = check_text(L, 2);
    const char *target = check_text(L, 3);
    struct nasoone_export_option options[16];
    size_t count = 0;
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        lua_settop(L, 4);
        lua_pushnil(L);
        while (lua_next(L, 4) != 0) {
            /* the names stay on the stack, above the table, while the engine reads them */
            luaL_checkstack(L, 2, "too many options");
            int is_number = 0;
            lua_Number value = lua_tonumberx(L, -1, &is_number);
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
            if (count == sizeof options / sizeof options[0])
                return luaL_argerror(L, 4, "too many options");
            options[count].name = name;
            options[count].value = is_number ? (double)value : NAN;
            count++;
        }
    }
    char err[ERR_SIZE];
    if (nasoone_add_export_named(capture, kind, target, options, count, err, sizeof err) != 0) {
        const char *code = nasoone_error_code(capture);
        if (code != NULL && strcmp(code, "unknown_kind") == 0)
            return luaL_argerror(L, 2, err);
        if (code != NULL && strcmp(code, "bad_option") == 0)
            return luaL_argerror(L, 4, err);
        return push_engine_failure(L, err);
    }
    lua_settop(L, 1);
    return 1;
}

/* cap:on_flows(function(records) ... end) or cap:on_flows(nil) */
static int capture_on_flows(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    char err[ERR_SIZE];
    if (nasoone_set_flow_records(capture, !lua_isnoneornil(L, 2), err, sizeof err) != 0)
        return push_engine_failure(L, err);
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, 2);
    lua_settop(L, 1);
    return 1;
}

static int capture_set_raw_filter(lua_State *L)
{
    return call_string_setter(L, nasoone_set_filter);
}

static int capture_set_timeout(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    lua_Number seconds = luaL_checknumber(L, 2);
    luaL_argcheck(L, seconds > 0 && seconds * 1000 <= UINT32_MAX, 2,
                  "the report interval must be > 0 and at most 4294967 seconds");
    uint32_t ms = (uint32_t)(seconds * 1000);
    char err[ERR_SIZE];
    return push_status(L, nasoone_set_interval_ms(capture, ms ? ms : 1, err, sizeof err), err);
}

static int capture_set_parsers(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    lua_Integer count = luaL_checkinteger(L, 2);
    luaL_argcheck(L, count >= 1 && count <= NASOONE_MAX_PARSERS, 2,
                  "the parser count must be from 1 to " NASOONE_STRINGIFY(NASOONE_MAX_PARSERS));
    char err[ERR_SIZE];
    return push_status(L, nasoone_set_parser_count(capture, (unsigned)count, err, sizeof err), err);
}

/* cap:set_community_id(on [, seed]): 5-tuple rows given as tables (on_report's rows =
 * "tables", on_flows' records) carry community_id */
static int capture_set_community_id(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    check_open_capture(L);
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    lua_Integer seed = luaL_optinteger(L, 3, 0);
    luaL_argcheck(L, seed >= 0 && seed <= 65535, 3, "a seed from 0 to 65535 expected");
    int community_seed = lua_toboolean(L, 2) ? (int)seed : -1;
    char err[ERR_SIZE];
    if (nasoone_set_community_id(handle->capture, community_seed, err, sizeof err) != 0)
        return push_status(L, -1, err);
    handle->community_seed = community_seed;
    return push_status(L, 0, err);
}

/* cap:set_biflow(on) */
static int capture_set_biflow(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    luaL_checktype(L, 2, LUA_TBOOLEAN);
    char err[ERR_SIZE];
    return push_status(L, nasoone_set_biflow(capture, lua_toboolean(L, 2), err, sizeof err), err);
}

/* cap:set_flow_key("4-tuple" | "5-tuple") */
static int capture_set_flow_key(lua_State *L)
{
    static const char *const keys[] = {"4-tuple", "5-tuple", NULL};
    nasoone_capture *capture = check_open_capture(L);
    int key = luaL_checkoption(L, 2, NULL, keys);
    char err[ERR_SIZE];
    return push_status(L,
                       nasoone_set_flow_key(capture,
                                            key ? NASOONE_KEY_5_TUPLE : NASOONE_KEY_4_TUPLE, err,
                                            sizeof err),
                       err);
}

/* cap:set_packet_limit(n): the input ends after n packets received; 0: no limit */
static int capture_set_packet_limit(lua_State *L)
{
    nasoone_capture *capture = check_open_capture(L);
    lua_Integer packets = luaL_checkinteger(L, 2);
    luaL_argcheck(L, packets >= 0, 2, "the packet limit must be 0 (none) or more");
    char err[ERR_SIZE];
    return push_status(L, nasoone_set_packet_limit(capture, (uint64_t)packets, err, sizeof err),
                       err);
}

/* cap:set_fragments("skip" | "attribute") */
static int capture_set_fragments(lua_State *L)
{
    static const char *const modes[] = {"skip", "attribute", NULL};
    static const enum nasoone_fragment_mode values[] = {NASOONE_FRAGMENTS_SKIP,
                                                        NASOONE_FRAGMENTS_ATTRIBUTE};
    nasoone_capture *capture = check_open_capture(L);
    int mode = luaL_checkoption(L, 2, NULL, modes);
    char err[ERR_SIZE];
    return push_status(L, nasoone_set_fragment_mode(capture, values[mode], err, sizeof err), err);
}

/* cap:on_report(function(report) ... end [, { rows = "tables" | "lazy" | "changed" }]) or
 * cap:on_report(nil) */
static int capture_on_report(lua_State *L)
{
    static const char *const modes[] = {"tables", "lazy", "changed"};
    struct lua_capture *handle = check_lua_capture(L);
    nasoone_capture *capture = check_open_capture(L);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TFUNCTION);
    enum report_rows rows = REPORT_ROWS_TABLES;
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        check_option_names(L, 3, (const char *const[]){"rows", NULL}, "on_report");
        if (lua_getfield(L, 3, "rows") != LUA_TNIL) {
            const char *mode = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            size_t m = 0;
            while (m < sizeof modes / sizeof modes[0] && strcmp(mode, modes[m]) != 0)
                m++;
            if (m == sizeof modes / sizeof modes[0])
                return luaL_argerror(L, 3, "option rows must be 'tables', 'lazy' or 'changed'");
            rows = (enum report_rows)m;
        }
    }
    char err[ERR_SIZE];
    if (nasoone_set_snapshots(capture, !lua_isnoneornil(L, 2), err, sizeof err) != 0)
        return push_engine_failure(L, err);
    handle->report_rows = rows;
    lua_settop(L, 2);
    lua_setiuservalue(L, 1, 1);
    lua_settop(L, 1);
    return 1;
}

typedef int (*state_move)(nasoone_capture *, char *, size_t);

static int call_state_move(lua_State *L, state_move move)
{
    nasoone_capture *capture = check_open_capture(L);
    char err[ERR_SIZE];
    return push_status(L, move(capture, err, sizeof err), err);
}

static int capture_start(lua_State *L) { return call_state_move(L, nasoone_start); }
static int capture_pause(lua_State *L) { return call_state_move(L, nasoone_pause); }
static int capture_resume(lua_State *L) { return call_state_move(L, nasoone_resume); }

static int capture_state(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    lua_pushstring(L, handle->capture ? nasoone_state_name(nasoone_get_state(handle->capture))
                                      : "closed");
    return 1;
}

/* cap:datalink() -> libpcap's name of the source's link type ("EN10MB", "LINUX_SLL"...), or
 * nil before a capture source is set. */
static int capture_datalink(lua_State *L)
{
    int dlt = nasoone_get_datalink(check_open_capture(L));
    const char *name = dlt < 0 ? NULL : pcap_datalink_val_to_name(dlt);
    if (dlt < 0)
        lua_pushnil(L);
    else if (name != NULL)
        lua_pushstring(L, name);
    else
        lua_pushfstring(L, "DLT_%d", dlt);
    return 1;
}

static int capture_total_packets(lua_State *L)
{
    struct nasoone_stats stats;
    nasoone_get_stats(check_open_capture(L), &stats);
    lua_pushinteger(L, (lua_Integer)stats.received);
    return 1;
}

static void set_integer_field(lua_State *L, const char *name, uint64_t value)
{
    lua_pushinteger(L, (lua_Integer)value);
    lua_setfield(L, -2, name);
}

static void push_stats(lua_State *L, nasoone_capture *capture)
{
    struct nasoone_stats stats;
    nasoone_get_stats(capture, &stats);
    lua_createtable(L, 0, 16);
    set_integer_field(L, "received", stats.received);
    set_integer_field(L, "counted", stats.counted);
    set_integer_field(L, "skipped_total", stats.skipped_total);
    set_integer_field(L, "dropped", stats.dropped);
    set_integer_field(L, "if_dropped", stats.if_dropped);
    set_integer_field(L, "queue_dropped", stats.queue_dropped);
    set_integer_field(L, "queue_waits", stats.queue_waits);
    set_integer_field(L, "paused_discarded", stats.paused_discarded);
    set_integer_field(L, "fragments_attributed", stats.fragments_attributed);
    set_integer_field(L, "pcap_received", stats.pcap_received);
    if (stats.device_count > 0) { /* several devices: each one's counters */
        lua_createtable(L, (int)stats.device_count, 0);
        for (unsigned i = 0; i < stats.device_count; i++) {
            const struct nasoone_device_stats *d = &stats.devices[i];
            lua_createtable(L, 0, 5);
            lua_pushstring(L, d->name);
            lua_setfield(L, -2, "name");
            set_integer_field(L, "received", d->received);
            set_integer_field(L, "pcap_received", d->pcap_received);
            set_integer_field(L, "dropped", d->dropped);
            set_integer_field(L, "if_dropped", d->if_dropped);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        lua_setfield(L, -2, "devices");
    }
    if (stats.warning[0] != '\0') {
        lua_pushstring(L, stats.warning);
        lua_setfield(L, -2, "warning");
    }
    set_integer_field(L, "flows", stats.flows);
    set_integer_field(L, "reports_written", stats.reports_written);
    set_integer_field(L, "memory_bytes", stats.memory_bytes);
    lua_createtable(L, 0, NASOONE_SKIP_REASON_END);
    for (int r = NASOONE_SKIP_NOT_IP; r < NASOONE_SKIP_REASON_END; r++)
        set_integer_field(L, nasoone_skip_reason_name((enum nasoone_skip_reason)r),
                          stats.skipped[r]);
    lua_setfield(L, -2, "skipped");
    lua_createtable(L, 0, 3);
    set_integer_field(L, "time_out_of_range", stats.time_out_of_range);
    set_integer_field(L, "time_fraction_out_of_range", stats.time_fraction_out_of_range);
    set_integer_field(L, "wire_length_below_captured", stats.wire_length_below_captured);
    lua_setfield(L, -2, "anomalies");
    lua_pushboolean(L, stats.file_truncated);
    lua_setfield(L, -2, "file_truncated");
    if (stats.error[0] != '\0') {
        lua_pushstring(L, stats.error);
        lua_setfield(L, -2, "error");
    }
    if (stats.write_error[0] != '\0') {
        lua_pushstring(L, stats.write_error);
        lua_setfield(L, -2, "write_error");
    }
    lua_pushboolean(L, stats.report_current);
    lua_setfield(L, -2, "report_current");
    set_integer_field(L, "file_size", stats.file_size);
    set_integer_field(L, "file_read", stats.file_read);
    if (stats.file_count > 0) {
        set_integer_field(L, "file_number", stats.file_number);
        set_integer_field(L, "file_count", stats.file_count);
        lua_pushstring(L, stats.file);
        lua_setfield(L, -2, "file");
    }
    set_integer_field(L, "rows_held", stats.rows_held);
    set_integer_field(L, "rows_peak", stats.rows_peak);
    lua_createtable(L, 0, 4);
    for (int r = NASOONE_END_IDLE; r < NASOONE_END_REASON_END; r++)
        if (r != 3) /* 3 (end of flow detected) is not a reason nasoone gives */
            set_integer_field(L, nasoone_end_reason_name(r), stats.rows_ended[r]);
    lua_setfield(L, -2, "rows_ended");
    set_integer_field(L, "records", stats.records);
    set_integer_field(L, "table_memory_bytes", stats.table_memory_bytes);
    lua_createtable(L, 0, NASOONE_THREAD_ROLE_END);
    for (int role = 0; role < NASOONE_THREAD_ROLE_END; role++) {
        lua_pushnumber(L, (lua_Number)stats.cpu_ns[role] / 1e9);
        lua_setfield(L, -2, nasoone_thread_role_name(role));
    }
    lua_setfield(L, -2, "cpu");
    lua_createtable(L, (int)stats.export_count, 0);
    for (unsigned i = 0; i < stats.export_count; i++) {
        const struct nasoone_export_stats *e = &stats.exports[i];
        lua_createtable(L, 0, 6);
        lua_pushstring(L, e->kind);
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, e->target);
        lua_setfield(L, -2, "target");
        set_integer_field(L, "sent", e->sent);
        set_integer_field(L, "dropped", e->dropped);
        set_integer_field(L, "errors", e->errors);
        set_integer_field(L, "recovered", e->recovered);
        if (e->error[0] != '\0') {
            lua_pushstring(L, e->error);
            lua_setfield(L, -2, "error");
        }
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "exports");
    lua_pushstring(L, nasoone_state_name(nasoone_get_state(capture)));
    lua_setfield(L, -2, "state");
}

static int capture_stats(lua_State *L)
{
    push_stats(L, check_open_capture(L));
    return 1;
}

static int capture_fd(lua_State *L)
{
    lua_pushinteger(L, nasoone_event_fd(check_open_capture(L)));
    return 1;
}

static void set_protocols_field(lua_State *L, const char *name, uint8_t protocol, uint8_t bits,
                                int reuse);

/* Sets a report row's fields in the table on top of the stack. With reuse, a protocols table
 * already there is overwritten rather than replaced: report:rows() refills one table per row,
 * and a new protocols table per row would be the garbage it exists to avoid. */
static void set_row_fields(lua_State *L, const struct nasoone_row *row, int reuse)
{
    char address[NASOONE_ADDRESS_SIZE];
    nasoone_format_address(row, 1, address);
    lua_pushstring(L, address);
    lua_setfield(L, -2, "source_ip");
    set_integer_field(L, "source_port", row->source_port);
    nasoone_format_address(row, 0, address);
    lua_pushstring(L, address);
    lua_setfield(L, -2, "destination_ip");
    set_integer_field(L, "destination_port", row->destination_port);
    set_protocols_field(L, "protocols", row->protocol, row->protocols, reuse);
    set_integer_field(L, "first", row->first_ms);
    set_integer_field(L, "last", row->last_ms);
    set_integer_field(L, "bytes", row->bytes);
    set_integer_field(L, "packets", row->packets);
    set_integer_field(L, "ip_bytes", row->ip_bytes);
    set_integer_field(L, "tcp_flags", row->tcp_flags);
    if (row->biflow) {
        set_protocols_field(L, "reverse_protocols", row->protocol, row->reverse_protocols, reuse);
        set_integer_field(L, "reverse_first", row->reverse_first_ms);
        set_integer_field(L, "reverse_last", row->reverse_last_ms);
        set_integer_field(L, "reverse_bytes", row->reverse_bytes);
        set_integer_field(L, "reverse_packets", row->reverse_packets);
        set_integer_field(L, "reverse_ip_bytes", row->reverse_ip_bytes);
        set_integer_field(L, "reverse_tcp_flags", row->reverse_tcp_flags);
    }
}

/* Sets field `name` of the table on top of the stack to the list of protocol names: the
 * 5-tuple key's one protocol (when `bits` has any), else TCP and UDP as `bits` says. With
 * reuse, a list already there is refilled. */
static void set_protocols_field(lua_State *L, const char *name, uint8_t protocol, uint8_t bits,
                                int reuse)
{
    if (!reuse || lua_getfield(L, -1, name) != LUA_TTABLE) {
        if (reuse)
            lua_pop(L, 1);
        lua_createtable(L, 2, 0);
    }
    int n = 0;
    if (protocol != 0) { /* 5-tuple: the one protocol of the key */
        if (bits != 0) {
            char text[12];
            lua_pushstring(L, nasoone_protocol_name(protocol, text));
            lua_rawseti(L, -2, ++n);
        }
    } else {
        if (bits & NASOONE_TCP) {
            lua_pushliteral(L, "TCP");
            lua_rawseti(L, -2, ++n);
        }
        if (bits & NASOONE_UDP) {
            lua_pushliteral(L, "UDP");
            lua_rawseti(L, -2, ++n);
        }
    }
    for (int i = n + 1; reuse && i <= 2; i++) {
        lua_pushnil(L);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, name);
}

/* What a row table has beyond the row's own fields. */
struct row_extras {
    int community_seed; /* >= 0: a 5-tuple row's community_id, with this seed */
    /* names a row's device (interface), for several devices: read at use, as a callback may
     * close the capture while a report of it is still open */
    const struct lua_capture *handle;
};

/* Sets the row table's (on top of the stack) community_id and interface, where they apply. */
static void set_extra_fields(lua_State *L, const struct nasoone_row *row,
                             const struct row_extras *extras)
{
    if (extras->community_seed >= 0 && row->protocol != 0) {
        char id[NASOONE_COMMUNITY_ID_SIZE];
        size_t length = nasoone_community_id(row, (uint16_t)extras->community_seed, id);
        lua_pushlstring(L, id, length);
        lua_setfield(L, -2, "community_id");
    }
    nasoone_capture *capture = extras->handle != NULL ? extras->handle->capture : NULL;
    const char *device =
        row->device != 0 && capture != NULL ? nasoone_device_name(capture, row->device) : NULL;
    if (device != NULL) {
        lua_pushstring(L, device);
        lua_setfield(L, -2, "interface");
    }
}

/* Pushes one report row as a new table, with its extra fields. */
static void push_row_with(lua_State *L, const struct nasoone_row *row,
                          const struct row_extras *extras)
{
    lua_createtable(L, 0, row->biflow ? 20 : 12);
    set_row_fields(L, row, 0);
    set_extra_fields(L, row, extras);
}

/* lua_pcall'ed by deliver_snapshot: turns the snapshot (light userdata argument) into the
 * report table, so that a memory error while building it is caught and the snapshot freed. */
static int build_report(lua_State *L)
{
    const struct nasoone_snapshot *snapshot = lua_touserdata(L, 1);
    const struct row_extras *extras = lua_touserdata(L, 2);
    lua_createtable(L, 0, 2);
    lua_pushboolean(L, snapshot->final);
    lua_setfield(L, -2, "final");
    lua_createtable(L, snapshot->count > INT32_MAX ? INT32_MAX : (int)snapshot->count, 0);
    for (size_t i = 0; i < snapshot->count; i++) {
        push_row_with(L, &snapshot->rows[i], extras);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "rows");
    return 1;
}

/* ---- reports read from the C snapshot: cap:on_report(fn, { rows = "lazy" | "changed" }) ----
 *
 * A table per row costs the Lua heap about 700 bytes per row and per report (2 million rows:
 * gigabytes, and a collector that runs all the time). The report userdata hands the callback
 * the writer's snapshot itself (80 bytes per row, already made) and builds a row only when the
 * script asks for it. It is valid while its callback runs: deliver_report closes it when the
 * callback returns, so the snapshot is freed at once rather than whenever the collector gets
 * to a userdata whose size it does not know; a report kept after that raises when used. */

struct lua_report {
    struct nasoone_snapshot *snapshot; /* NULL once closed */
    int owns_snapshot;                 /* lazy: freed with the report; changed: the capture's */
    uint32_t *changed;                 /* rows = "changed": snapshot indices handed over */
    size_t count;                      /* rows handed over (#report) */
    struct row_extras extras;          /* set_community_id's seed, the capture */
};

static void report_release(struct lua_report *report)
{
    if (report->owns_snapshot)
        nasoone_snapshot_free(report->snapshot);
    free(report->changed);
    report->snapshot = NULL;
    report->changed = NULL;
    report->count = 0;
}

static struct lua_report *check_open_report(lua_State *L)
{
    struct lua_report *report = luaL_checkudata(L, 1, REPORT_TYPE);
    if (report->snapshot == NULL)
        luaL_error(L, "nasoone: the report is closed: it is valid only while its on_report "
                      "callback runs (copy the rows you keep)");
    return report;
}

/* The i-th row handed over, 0-based. */
static const struct nasoone_row *report_row(const struct lua_report *report, size_t i)
{
    return &report->snapshot->rows[report->changed ? report->changed[i] : i];
}

/* report[i] (a new row table, nil out of range), report.final, and the methods. */
static int report_index(lua_State *L)
{
    int is_integer = 0;
    lua_Integer i = lua_tointegerx(L, 2, &is_integer);
    if (lua_type(L, 2) == LUA_TSTRING) {
        if (strcmp(lua_tostring(L, 2), "final") == 0) {
            lua_pushboolean(L, check_open_report(L)->snapshot->final);
            return 1;
        }
        lua_pushvalue(L, 2);
        lua_rawget(L, lua_upvalueindex(1)); /* a method, or nil */
        return 1;
    }
    struct lua_report *report = check_open_report(L);
    if (lua_type(L, 2) == LUA_TNUMBER && is_integer && i >= 1 && (lua_Unsigned)i <= report->count)
        push_row_with(L, report_row(report, (size_t)i - 1), &report->extras);
    else
        lua_pushnil(L);
    return 1;
}

static int report_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_open_report(L)->count);
    return 1;
}

/* The iterator report:rows() returns: (report, i) -> i + 1, the row refilled, or nil at the
 * end. Upvalue 1 is the one row table. Raises if the report was closed meanwhile. */
static int report_next(lua_State *L)
{
    struct lua_report *report = check_open_report(L);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 0 || (lua_Unsigned)i >= report->count)
        return 0;
    lua_pushinteger(L, i + 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    const struct nasoone_row *row = report_row(report, (size_t)i);
    set_row_fields(L, row, 1);
    set_extra_fields(L, row, &report->extras);
    return 2;
}

/* report:rows() -> iterator, report, 0: `for i, row in report:rows() do`. One table for all
 * the rows: no garbage per row beyond its two address strings. */
static int report_rows(lua_State *L)
{
    check_open_report(L);
    lua_createtable(L, 0, 10);
    lua_pushcclosure(L, report_next, 1);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

/* report:totals() -> { rows, bytes, packets, ip_bytes } over every row of the report (also
 * with rows = "changed", where #report counts only the rows that changed). */
static int report_totals(lua_State *L)
{
    const struct nasoone_snapshot *snapshot = check_open_report(L)->snapshot;
    uint64_t bytes = 0, packets = 0, ip_bytes = 0;
    for (size_t i = 0; i < snapshot->count; i++) { /* a biflow's two directions */
        const struct nasoone_row *row = &snapshot->rows[i];
        bytes += row->bytes + row->reverse_bytes;
        packets += row->packets + row->reverse_packets;
        ip_bytes += row->ip_bytes + row->reverse_ip_bytes;
    }
    lua_createtable(L, 0, 4);
    set_integer_field(L, "rows", snapshot->count);
    set_integer_field(L, "bytes", bytes);
    set_integer_field(L, "packets", packets);
    set_integer_field(L, "ip_bytes", ip_bytes);
    return 1;
}

/* report:close(), __close, __gc: frees what the report holds; safe to call again. */
static int report_close(lua_State *L)
{
    report_release(luaL_checkudata(L, 1, REPORT_TYPE));
    return 0;
}

static int report_tostring(lua_State *L)
{
    const struct lua_report *report = luaL_checkudata(L, 1, REPORT_TYPE);
    if (report->snapshot == NULL)
        lua_pushfstring(L, "nasoone.report (closed): %p", (const void *)report);
    else
        lua_pushfstring(L, "nasoone.report (%I rows%s): %p", (lua_Integer)report->count,
                        report->snapshot->final ? ", final" : "", (const void *)report);
    return 1;
}

static int same_counts(const struct nasoone_row *a, const struct nasoone_row *b)
{
    return a->protocols == b->protocols && a->first_ms == b->first_ms && a->last_ms == b->last_ms &&
           a->bytes == b->bytes && a->packets == b->packets && a->ip_bytes == b->ip_bytes &&
           a->tcp_flags == b->tcp_flags && a->reverse_first_ms == b->reverse_first_ms &&
           a->reverse_last_ms == b->reverse_last_ms && a->reverse_bytes == b->reverse_bytes &&
           a->reverse_packets == b->reverse_packets && a->reverse_ip_bytes == b->reverse_ip_bytes &&
           a->reverse_protocols == b->reverse_protocols &&
           a->reverse_tcp_flags == b->reverse_tcp_flags;
}

/* rows = "changed": writes to `changed` (room for current->count) the indices of the rows of
 * `current` that are not in `previous` (NULL: none) or differ from it, and returns how many.
 * Both are in report order, so one merge walk finds them: no engine support needed, at the
 * price of keeping the previous snapshot. Returns -1 if `current` is not in report order,
 * which the walk relies on. */
static long diff_snapshots(const struct nasoone_snapshot *previous,
                           const struct nasoone_snapshot *current, uint32_t *changed)
{
    size_t p = 0, n = 0, before = previous ? previous->count : 0;
    for (size_t i = 0; i < current->count; i++) {
        const struct nasoone_row *row = &current->rows[i];
        if (i > 0 && nasoone_compare_rows(&current->rows[i - 1], row) >= 0)
            return -1;
        int c = 1;
        while (p < before && (c = nasoone_compare_rows(&previous->rows[p], row)) < 0)
            p++;
        if (p < before && c == 0 && same_counts(&previous->rows[p++], row))
            continue;
        changed[n++] = (uint32_t)i;
    }
    return (long)n;
}

/* lua_pcall'ed by deliver_report: wraps the snapshot (the light userdata argument, a struct
 * lua_report to copy) in a report userdata, which owns what it holds from then on. Only the
 * allocation of the userdata can fail, before it holds anything. */
static int new_report(lua_State *L)
{
    const struct lua_report *init = lua_touserdata(L, 1);
    struct lua_report *report = lua_newuserdatauv(L, sizeof *report, 0);
    *report = *init;
    luaL_setmetatable(L, REPORT_TYPE);
    return 1;
}

/* deliver_snapshot for rows = "lazy" and "changed", the callback on top of the stack: calls it
 * with a report userdata over the snapshot, then closes the report. With "changed" the
 * snapshot becomes the baseline of the next report, unless a report delivered during the
 * callback (poll or wait called from it) is newer, or no report follows this final one. */
static int deliver_report(lua_State *L, struct lua_capture *handle,
                          struct nasoone_snapshot *snapshot)
{
    struct lua_report init = {snapshot,
                              handle->report_rows == REPORT_ROWS_LAZY,
                              NULL,
                              snapshot->count,
                              {handle->community_seed, handle}};
    if (handle->report_rows == REPORT_ROWS_CHANGED) {
        long n = -1;
        init.changed = snapshot->count <= UINT32_MAX
                           ? malloc((snapshot->count ? snapshot->count : 1) * sizeof(uint32_t))
                           : NULL;
        if (init.changed != NULL)
            n = diff_snapshots(handle->previous, snapshot, init.changed);
        if (n < 0) {
            free(init.changed);
            nasoone_snapshot_free(snapshot);
            return luaL_error(L, init.changed
                                     ? "nasoone: rows = 'changed' needs rows in report order"
                                     : "nasoone: out of memory for a changed report");
        }
        init.count = (size_t)n;
    }
    int final = snapshot->final;
    uint64_t delivery = ++handle->deliveries;
    lua_pushcfunction(L, new_report); /* callback new_report */
    lua_pushlightuserdata(L, &init);  /* callback new_report init */
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        free(init.changed);
        nasoone_snapshot_free(snapshot);
        return lua_error(L);
    }
    lua_pushvalue(L, -1);               /* callback report report */
    lua_rotate(L, -3, 1);               /* report callback report */
    int status = lua_pcall(L, 1, 0, 0); /* report [error] */
    report_release(lua_touserdata(L, status == LUA_OK ? -1 : -2));
    if (!init.owns_snapshot) {
        if (handle->capture != NULL && delivery == handle->deliveries && !final) {
            nasoone_snapshot_free(handle->previous);
            handle->previous = snapshot;
        } else {
            nasoone_snapshot_free(snapshot);
            if (final) {
                nasoone_snapshot_free(handle->previous);
                handle->previous = NULL;
            }
        }
    }
    if (status != LUA_OK)
        return lua_error(L);
    lua_pop(L, 1);
    return 1;
}

/* Runs on_report for the pending snapshot, if any; returns 1 if the callback ran. The snapshot
 * is turned into a table and freed before the callback runs (or, for rows = "lazy" and
 * "changed", wrapped by deliver_report), so an error raised by the callback (which propagates
 * to the caller of wait/poll/stop) leaks nothing. The callback cannot yield (it runs under a C
 * call). */
static int deliver_snapshot(lua_State *L, nasoone_capture *capture, int self_index)
{
    struct nasoone_snapshot *snapshot = nasoone_take_snapshot(capture);
    if (snapshot == NULL)
        return 0;
    lua_getiuservalue(L, self_index, 1); /* callback */
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        nasoone_snapshot_free(snapshot);
        return 0;
    }
    struct lua_capture *handle = lua_touserdata(L, self_index);
    if (handle->report_rows != REPORT_ROWS_TABLES)
        return deliver_report(L, handle, snapshot);
    struct row_extras extras = {handle->community_seed, handle};
    lua_pushcfunction(L, build_report); /* callback build_report */
    lua_pushlightuserdata(L, snapshot); /* callback build_report snapshot */
    lua_pushlightuserdata(L, &extras);
    int status = lua_pcall(L, 2, 1, 0); /* callback report-or-error */
    nasoone_snapshot_free(snapshot);
    if (status != LUA_OK)
        lua_error(L);
    lua_call(L, 1, 0);
    return 1;
}

/* True once the capture finished or stopped, or was closed (by a callback, say). */
static int is_over(const struct lua_capture *handle)
{
    if (handle->capture == NULL)
        return 1;
    enum nasoone_state state = nasoone_get_state(handle->capture);
    return state == NASOONE_FINISHED || state == NASOONE_STOPPED;
}

/* Pushes the last error of an export that failed since wait or poll last said so (a full
 * disk under a flow log, a collector refusing records), and returns 1; 0 if none. */
static int push_new_export_error(lua_State *L, struct lua_capture *handle,
                                 const struct nasoone_stats *stats)
{
    uint64_t errors = 0;
    const char *last = NULL;
    for (unsigned i = 0; i < stats->export_count; i++) {
        errors += stats->exports[i].errors;
        if (stats->exports[i].error[0] != '\0')
            last = stats->exports[i].error;
    }
    if (errors <= handle->export_errors_seen || last == NULL)
        return 0;
    handle->export_errors_seen = errors;
    lua_pushstring(L, last);
    return 1;
}

/* What wait and poll return: `over` (true once the capture finished or stopped), then the
 * capture's error if it has one (a read error, a device that went away), else the error of an
 * export that failed since the previous call, if any. */
static int push_progress(lua_State *L, struct lua_capture *handle, int over)
{
    lua_pushboolean(L, over);
    if (handle->capture == NULL)
        return 1;
    struct nasoone_stats stats;
    nasoone_get_stats(handle->capture, &stats);
    if (over && stats.error[0] != '\0') {
        lua_pushstring(L, stats.error);
        return 2;
    }
    return 1 + push_new_export_error(L, handle, &stats);
}

static int push_over(lua_State *L, struct lua_capture *handle)
{
    return push_progress(L, handle, 1);
}

/* lua_pcall'ed by deliver_flows: turns a record batch (light userdata) into an array of
 * record tables (row fields, plus reason), so a memory error frees the batch. */
static int build_flows(lua_State *L)
{
    const struct nasoone_flow_batch *batch = lua_touserdata(L, 1);
    const struct row_extras *extras = lua_touserdata(L, 2);
    lua_createtable(L, batch->count > INT32_MAX ? INT32_MAX : (int)batch->count, 0);
    for (size_t i = 0; i < batch->count; i++) {
        push_row_with(L, &batch->records[i].row, extras);
        lua_pushstring(L, nasoone_end_reason_name(batch->records[i].reason));
        lua_setfield(L, -2, "reason");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* How long a delivery may go on: wait(t)'s deadline, and for poll the batches pending when it
 * was called (a file capture's exporter refills the queue while a slow callback runs: without
 * a bound, one call would run every batch of the capture). */
struct delivery_limit {
    uint64_t deadline_ms; /* CLOCK_MONOTONIC; 0: none */
    size_t batches;       /* SIZE_MAX: no bound */
};

static const struct delivery_limit NO_LIMIT = {0, SIZE_MAX};

static uint64_t now_ms(void);

/* Runs on_flows for every pending batch of records, within `limit` (at least one batch when any
 * is pending); returns 1 if the callback ran. Records and reports come from different threads:
 * a row may leave a report a moment before its last record arrives, never after the end (the
 * capture is finished only once both are out). */
static int deliver_flows(lua_State *L, const struct lua_capture *handle, int self_index,
                         struct delivery_limit limit)
{
    int called = 0;
    struct nasoone_flow_batch *batch;
    for (size_t delivered = 0; delivered < limit.batches; delivered++) {
        if (delivered > 0 && limit.deadline_ms != 0 && now_ms() >= limit.deadline_ms)
            break;
        if (handle->capture == NULL || (batch = nasoone_take_flows(handle->capture)) == NULL)
            break;
        lua_getiuservalue(L, self_index, 2); /* callback */
        if (!lua_isfunction(L, -1)) {
            lua_pop(L, 1);
            nasoone_flows_free(batch);
            continue;
        }
        struct row_extras extras = {handle->community_seed, handle};
        lua_pushcfunction(L, build_flows);
        lua_pushlightuserdata(L, batch);
        lua_pushlightuserdata(L, &extras);
        int status = lua_pcall(L, 2, 1, 0); /* callback records-or-error */
        nasoone_flows_free(batch);
        if (status != LUA_OK)
            lua_error(L);
        lua_call(L, 1, 0);
        called = 1;
    }
    return called;
}

/* deliver_flows and deliver_snapshot for a handle a callback may have closed meanwhile. */
static int deliver_if_open(lua_State *L, const struct lua_capture *handle, int self_index,
                           struct delivery_limit limit)
{
    int called = deliver_flows(L, handle, self_index, limit);
    return (handle->capture != NULL && deliver_snapshot(L, handle->capture, self_index)) || called;
}

/* Milliseconds on CLOCK_MONOTONIC, for wait's deadline. */
static uint64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static int do_nothing(lua_State *L)
{
    (void)L;
    return 0;
}

/* A signal interrupted a wait. The interpreter's own handling of it (lua.c's Ctrl-C handler
 * sets a hook that raises "interrupted!") only runs when Lua calls something: call a function
 * that does nothing, so that it runs now, not when the capture ends. */
static void let_signal_handlers_run(lua_State *L)
{
    lua_pushcfunction(L, do_nothing);
    lua_call(L, 0, 0);
}

/* Waiting on a capture that never started would never end: nil, message instead. Returns the
 * number of results pushed, 0 when the state allows waiting. */
static int refuse_unstarted(lua_State *L, nasoone_capture *capture, const char *what)
{
    enum nasoone_state state = nasoone_get_state(capture);
    if (state != NASOONE_INITIAL && state != NASOONE_RUNNABLE)
        return 0;
    char message[ERR_SIZE];
    snprintf(message, sizeof message, "nasoone: cannot %s in state '%s': start the capture first",
             what, nasoone_state_name(state));
    push_failure(L, message);
    lua_pushliteral(L, "wrong_state");
    return 3;
}

/* cap:wait([seconds]) -> true (and the error, if the capture ended on one) once finished or
 * stopped, false when the time ran out.
 * Runs on_report callbacks on this thread as reports arrive. No argument: waits until the end. */
static int capture_wait(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    nasoone_capture *capture = check_open_capture(L);
    lua_Number seconds = luaL_optnumber(L, 2, -1);
    int forever = lua_isnoneornil(L, 2) || seconds > 1e9; /* math.huge too: 30 years is forever */
    if (!forever && !(seconds >= 0))
        return luaL_argerror(L, 2, "a number of seconds >= 0 expected");
    int refused = refuse_unstarted(L, capture, "wait");
    if (refused)
        return refused;
    uint64_t deadline = forever ? 0 : now_ms() + (uint64_t)(seconds * 1000);
    lua_settop(L, 1);
    for (;;) {
        /* event first, then the state, then the snapshot: whatever happens after the event is
         * cleared makes it readable again, and the writer publishes the final snapshot before
         * it says finished */
        nasoone_clear_event(handle->capture);
        int over = is_over(handle);
        struct delivery_limit limit = {deadline, SIZE_MAX};
        int called_back = deliver_if_open(L, handle, 1, limit);
        if (over || handle->capture == NULL)
            return push_over(L, handle);
        int paused = nasoone_get_state(handle->capture) == NASOONE_PAUSED;
        if (forever && paused) {
            /* paused before the call or by a callback: only this thread could resume it */
            push_failure(L, "nasoone: cannot wait without a timeout in state 'paused': "
                            "resume first");
            lua_pushliteral(L, "wrong_state");
            return 3;
        }
        if (called_back) {
            /* The callback may have paused the capture: nothing changes until this thread
             * resumes it, so say so now rather than at the deadline. It may also have called
             * poll or wait, which clear the event: look at the state again before sleeping. */
            if (paused)
                return push_progress(L, handle, 0);
            continue;
        }
        int timeout = -1;
        if (!forever) {
            uint64_t now = now_ms();
            if (now >= deadline)
                return push_progress(L, handle, 0);
            uint64_t left = deadline - now;
            timeout = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        if (nasoone_wait_event(handle->capture, timeout) < 0) {
            if (errno != EINTR)
                return luaL_error(L, "nasoone: waiting for the capture failed: %s",
                                  strerror(errno));
            let_signal_handlers_run(L);
        }
    }
}

/* cap:poll() -> true (and the error, if any) if the capture is over, false if not; runs
 * pending on_report callbacks, never blocks. */
static int capture_poll(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    int refused = refuse_unstarted(L, check_open_capture(L), "poll");
    if (refused)
        return refused;
    lua_settop(L, 1);
    nasoone_clear_event(handle->capture); /* before the state: see capture_wait */
    int over = is_over(handle);
    struct delivery_limit limit = {0, nasoone_pending_flow_batches(handle->capture)};
    deliver_if_open(L, handle, 1, limit);
    if (over || handle->capture == NULL)
        return push_over(L, handle);
    return push_progress(L, handle, 0);
}

/* cap:stop() -> stats: joins every thread, writes the final report, runs the last on_report.
 * nil, message when the final report could not be written (the capture is stopped all the
 * same; cap:stats() has the rest). */
static int capture_stop(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    nasoone_capture *capture = check_open_capture(L);
    lua_settop(L, 1);
    char err[ERR_SIZE];
    int results = 1;
    if (nasoone_stop(capture, err, sizeof err) != 0) {
        const char *code = nasoone_error_code(capture);
        if (code == NULL || strcmp(code, "report_not_written") != 0)
            return push_engine_failure(L, err); /* not running: nothing happened */
        results = push_engine_failure(L, err);  /* stopped, but the final report is not on disk */
    } else {
        push_stats(L, capture); /* before the callback, which may close the capture */
    }
    lua_rotate(L, 1, -1);                                /* results self */
    deliver_if_open(L, handle, lua_gettop(L), NO_LIMIT); /* the threads are over: all of it */
    lua_settop(L, results);
    return results;
}

/* __gc, __close and close(): stop and join if running, free; safe to call again. */
static int capture_close(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    nasoone_capture *capture = handle->capture;
    handle->capture = NULL;
    nasoone_capture_free(capture);
    nasoone_snapshot_free(handle->previous);
    handle->previous = NULL;
    return 0;
}

static int capture_tostring(lua_State *L)
{
    struct lua_capture *handle = check_lua_capture(L);
    lua_pushfstring(L, "nasoone.capture (%s): %p",
                    handle->capture ? nasoone_state_name(nasoone_get_state(handle->capture))
                                    : "closed",
                    (void *)handle);
    return 1;
}

static void push_address(lua_State *L, const struct sockaddr *address, const char *field)
{
    char text[INET6_ADDRSTRLEN];
    const void *raw = NULL;
    if (address == NULL)
        return;
    if (address->sa_family == AF_INET)
        raw = &((const struct sockaddr_in *)(const void *)address)->sin_addr;
    else if (address->sa_family == AF_INET6)
        raw = &((const struct sockaddr_in6 *)(const void *)address)->sin6_addr;
    if (raw == NULL || inet_ntop(address->sa_family, raw, text, sizeof text) == NULL)
        return;
    lua_pushstring(L, text);
    lua_setfield(L, -2, field);
}

/* nasoone.core.devices([include_all]) -> array of {name, description, addresses, flags}.
 * Without include_all, only devices with an IPv4/IPv6 address, as nasoone-lib listed them. */
static int core_devices(lua_State *L)
{
    int include_all = lua_toboolean(L, 1);
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_if_t *devices = NULL;
    if (pcap_findalldevs(&devices, errbuf) != 0) {
        char message[ERR_SIZE];
        snprintf(message, sizeof message, "nasoone: cannot list devices: %s", errbuf);
        push_failure(L, message);
        lua_pushliteral(L, "error");
        return 3;
    }
    lua_newtable(L);
    int n = 0;
    for (pcap_if_t *d = devices; d != NULL; d = d->next) {
        int has_ip = 0;
        for (pcap_addr_t *a = d->addresses; a != NULL; a = a->next)
            has_ip |= a->addr && (a->addr->sa_family == AF_INET || a->addr->sa_family == AF_INET6);
        if (!has_ip && !include_all)
            continue;
        lua_createtable(L, 0, 4);
        lua_pushstring(L, d->name);
        lua_setfield(L, -2, "name");
        if (d->description) {
            lua_pushstring(L, d->description);
            lua_setfield(L, -2, "description");
        }
        lua_newtable(L);
        int k = 0;
        for (pcap_addr_t *a = d->addresses; a != NULL; a = a->next) {
            if (!a->addr || (a->addr->sa_family != AF_INET && a->addr->sa_family != AF_INET6))
                continue;
            lua_createtable(L, 0, 3);
            lua_pushstring(L, a->addr->sa_family == AF_INET ? "inet" : "inet6");
            lua_setfield(L, -2, "family");
            push_address(L, a->addr, "address");
            push_address(L, a->netmask, "netmask");
            lua_rawseti(L, -2, ++k);
        }
        lua_setfield(L, -2, "addresses");
        lua_createtable(L, 0, 4);
        lua_pushboolean(L, (d->flags & PCAP_IF_UP) != 0);
        lua_setfield(L, -2, "up");
        lua_pushboolean(L, (d->flags & PCAP_IF_RUNNING) != 0);
        lua_setfield(L, -2, "running");
        lua_pushboolean(L, (d->flags & PCAP_IF_LOOPBACK) != 0);
        lua_setfield(L, -2, "loopback");
        lua_pushboolean(L, (d->flags & PCAP_IF_WIRELESS) != 0);
        lua_setfield(L, -2, "wireless");
        lua_setfield(L, -2, "flags");
        lua_rawseti(L, -2, ++n);
    }
    pcap_freealldevs(devices);
    return 1;
}

/* nasoone.core.default_device() -> name, or nil, message. The first device libpcap lists
 * that is up and not a loopback (what pcap_lookupdev used to pick). */
static int core_default_device(lua_State *L)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_if_t *devices = NULL;
    if (pcap_findalldevs(&devices, errbuf) != 0) {
        char message[ERR_SIZE];
        snprintf(message, sizeof message, "nasoone: cannot list devices: %s", errbuf);
        push_failure(L, message);
        lua_pushliteral(L, "error");
        return 3;
    }
    const char *chosen = NULL;
    for (pcap_if_t *d = devices; d != NULL && chosen == NULL; d = d->next)
        if ((d->flags & PCAP_IF_UP) && !(d->flags & PCAP_IF_LOOPBACK))
            chosen = d->name;
    if (chosen == NULL && devices != NULL)
        chosen = devices->name;
    if (chosen != NULL)
        lua_pushstring(L, chosen);
    pcap_freealldevs(devices);
    if (chosen == NULL) {
        push_failure(L, "nasoone: no capture device found");
        lua_pushliteral(L, "no_such_device");
        return 3;
    }
    return 1;
}

static const luaL_Reg capture_methods[] = {
    {"set_capture_file", capture_set_capture_file},
    {"set_capture_device", capture_set_capture_device},
    {"set_output", capture_set_output},
    {"set_timeout", capture_set_timeout},
    {"set_parsers", capture_set_parsers},
    {"set_packet_limit", capture_set_packet_limit},
    {"set_flow_key", capture_set_flow_key},
    {"set_community_id", capture_set_community_id},
    {"set_biflow", capture_set_biflow},
    {"set_raw_filter", capture_set_raw_filter},
    {"set_fragments", capture_set_fragments},
    {"on_report", capture_on_report},
    {"set_flow_limits", capture_set_flow_limits},
    {"add_export", capture_add_export},
    {"on_flows", capture_on_flows},
    {"start", capture_start},
    {"pause", capture_pause},
    {"resume", capture_resume},
    {"stop", capture_stop},
    {"state", capture_state},
    {"total_packets", capture_total_packets},
    {"datalink", capture_datalink},
    {"stats", capture_stats},
    {"wait", capture_wait},
    {"poll", capture_poll},
    {"fd", capture_fd},
    {"close", capture_close},
    {NULL, NULL},
};

static const luaL_Reg capture_metamethods[] = {
    {"__gc", capture_close},
    {"__close", capture_close},
    {"__tostring", capture_tostring},
    {"__index", NULL}, /* set to the methods table below */
    {NULL, NULL},
};

/* nasoone.core.report_key(source_ip, source_port, destination_ip, destination_port [,
 * protocol]) -> the row's place in the report's order as a string (string comparison orders
 * rows as the report does), or nil when an address is not one. Two spellings of an address
 * give one key. protocol: a 5-tuple row's ("ICMP", or its number); none for a 4-tuple row. */
static int core_report_key(lua_State *L)
{
    struct nasoone_row row;
    memset(&row, 0, sizeof row);
    const char *addresses[2] = {check_text(L, 1), check_text(L, 3)};
    lua_Integer ports[2] = {luaL_checkinteger(L, 2), luaL_checkinteger(L, 4)};
    uint8_t *bytes[2] = {row.source, row.destination};
    for (int i = 0; i < 2; i++) {
        if (ports[i] < 0 || ports[i] > 65535)
            return luaL_argerror(L, 2 + 2 * i, "a port from 0 to 65535 expected");
        int family = strchr(addresses[i], ':') != NULL ? AF_INET6 : AF_INET;
        if (inet_pton(family, addresses[i], bytes[i]) != 1 ||
            (i == 1 && (family == AF_INET6) != (row.family == 6))) {
            lua_pushnil(L);
            return 1;
        }
        row.family = family == AF_INET6 ? 6 : 4;
    }
    row.source_port = (uint16_t)ports[0];
    row.destination_port = (uint16_t)ports[1];
    if (!lua_isnoneornil(L, 5)) {
        int number = -1;
        if (lua_type(L, 5) == LUA_TNUMBER && lua_isinteger(L, 5))
            number = lua_tointeger(L, 5) >= 1 && lua_tointeger(L, 5) <= 255
                         ? (int)lua_tointeger(L, 5)
                         : -1;
        else if (lua_type(L, 5) == LUA_TSTRING)
            number = nasoone_protocol_number(lua_tostring(L, 5), lua_rawlen(L, 5));
        luaL_argcheck(L, number > 0, 5,
                      "an IP protocol (a name such as \"ICMP\", or 1 to 255) expected");
        row.protocol = (uint8_t)number;
    }
    uint8_t key[NASOONE_ORDER_KEY_SIZE];
    nasoone_order_key(&row, key);
    lua_pushlstring(L, (const char *)key, sizeof key);
    return 1;
}

/* nasoone.core.read_report(path, options): the report file at path read for `nasoone view` by
 * report_reader.c (parsed, filtered, ordered or grouped, and cut in C), or nil, why ("open",
 * "not_file", "read", "too_long", "not_report", "bad_csv_row", "bad_jsonl_row", "memory"), the
 * line it is about and a text (the bad line, strerror's message, the file's type). Options:
 * sort, desc, keep, ip, port, protocol, by, human, progress(phase, done, total). The result:
 * format, rows, selected, entries, shown, first, last (nil when no row is selected), total (the
 * totals row's cells by column), lines(first, last) (the widest cell of each column among the
 * shown entries first..last), lines(first, last, columns, cut) (their lines of text; columns:
 * { { name =, width =, right = } ... }) and close() (frees the report before the collector). */
#define REPORT_READER_TYPE "nasoone.report_reader"

static int report_reader_close_lua(lua_State *L)
{
    struct report_reader **box = lua_touserdata(L, lua_upvalueindex(1));
    if (box == NULL)
        box = luaL_checkudata(L, 1, REPORT_READER_TYPE);
    report_reader_free(*box);
    *box = NULL;
    return 0;
}

static int report_reader_lines_lua(lua_State *L)
{
    struct report_reader *reader = *(struct report_reader **)lua_touserdata(L, lua_upvalueindex(1));
    if (reader == NULL)
        return luaL_error(L, "nasoone: the report was closed");
    lua_Integer first = luaL_checkinteger(L, 1), last = luaL_checkinteger(L, 2);
    size_t from = first < 1 ? 0 : (size_t)(first - 1), to = last < 0 ? 0 : (size_t)last;
    if (lua_isnoneornil(L, 3)) {
        size_t widths[REPORT_READER_COLUMNS];
        report_reader_widths(reader, from, to, widths);
        lua_createtable(L, 0, REPORT_READER_COLUMNS);
        for (int c = 0; c < REPORT_READER_COLUMNS; c++) {
            lua_pushinteger(L, (lua_Integer)widths[c]);
            lua_setfield(L, -2, report_reader_column_name(c));
        }
        return 1;
    }
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer cut = luaL_optinteger(L, 4, 0);
    struct report_reader_layout layout[REPORT_READER_COLUMNS];
    size_t count = 0;
    while (lua_geti(L, 3, (lua_Integer)count + 1) == LUA_TTABLE && count < REPORT_READER_COLUMNS) {
        lua_getfield(L, -1, "name");
        lua_getfield(L, -2, "width");
        lua_getfield(L, -3, "right");
        layout[count].column = report_reader_column(luaL_checkstring(L, -3));
        lua_Integer width = luaL_checkinteger(L, -2);
        layout[count].width = width < 0 ? 0 : (size_t)width;
        layout[count].right = lua_toboolean(L, -1);
        lua_pop(L, 4);
        count++;
    }
    lua_pop(L, 1);
    size_t length;
    const char *text =
        report_reader_lines(reader, from, to, layout, count, cut < 0 ? 0 : (size_t)cut, &length);
    if (text == NULL)
        return luaL_error(L, "nasoone: out of memory");
    lua_pushlstring(L, text, length);
    return 1;
}

/* The progress option, called by the reader: the function is at `function` on L's stack. */
struct read_report_progress {
    lua_State *L;
    int function;
};

static void read_report_progress(void *context, const char *phase, uint64_t done, uint64_t total)
{
    const struct read_report_progress *p = context;
    lua_pushvalue(p->L, p->function);
    lua_pushstring(p->L, phase);
    lua_pushinteger(p->L, (lua_Integer)done);
    lua_pushinteger(p->L, (lua_Integer)total);
    lua_call(p->L, 3, 0);
}

/* options[name]: a string (the options table keeps it alive), or NULL when nil. */
static const char *read_report_string(lua_State *L, const char *name)
{
    int type = lua_getfield(L, 2, name);
    if (type != LUA_TNIL && type != LUA_TSTRING)
        luaL_argerror(L, 2, lua_pushfstring(L, "%s must be a string", name));
    const char *value = type == LUA_TNIL ? NULL : lua_tostring(L, -1);
    lua_pop(L, 1);
    return value;
}

static int core_read_report(lua_State *L)
{
    const char *path = check_text(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    struct report_reader_options options;
    memset(&options, 0, sizeof options);
    options.sort = read_report_string(L, "sort");
    options.ip = read_report_string(L, "ip");
    options.protocol = read_report_string(L, "protocol");
    options.by = read_report_string(L, "by");
    options.interface = read_report_string(L, "interface");
    lua_getfield(L, 2, "desc");
    lua_getfield(L, 2, "human");
    lua_getfield(L, 2, "keep");
    lua_getfield(L, 2, "port");
    lua_getfield(L, 2, "progress"); /* kept on the stack while the report is read */
    options.desc = lua_toboolean(L, -5);
    options.human = lua_toboolean(L, -4);
    int keep_ok = 1, port_ok = 1;
    lua_Integer keep = lua_isnil(L, -3) ? 0 : lua_tointegerx(L, -3, &keep_ok);
    lua_Integer port = lua_isnil(L, -2) ? -1 : lua_tointegerx(L, -2, &port_ok);
    luaL_argcheck(L, keep_ok && keep >= 0, 2, "keep must be an integer, 0 or more");
    luaL_argcheck(L, port_ok && port >= -1 && port <= 65535, 2, "port must be from 0 to 65535");
    options.keep = (uint64_t)keep;
    options.port = (int)port;
    struct read_report_progress progress = {L, lua_gettop(L)};
    if (!lua_isnil(L, -1)) {
        luaL_checktype(L, -1, LUA_TFUNCTION);
        options.progress = read_report_progress;
        options.context = &progress;
    }
    /* the reader is the userdata's: freed by the collector (or close) whatever happens */
    struct report_reader **box = lua_newuserdatauv(L, sizeof *box, 0);
    *box = NULL;
    if (luaL_newmetatable(L, REPORT_READER_TYPE)) {
        lua_pushnil(L);
        lua_pushcclosure(L, report_reader_close_lua, 1);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    *box = report_reader_new();
    if (*box == NULL)
        return luaL_error(L, "nasoone: out of memory");
    if (report_reader_load(*box, path, &options) != 0) {
        uint64_t line;
        const char *text;
        size_t length;
        const char *kind = report_reader_error(*box, &line, &text, &length);
        if (strcmp(kind, "option") == 0)
            return luaL_argerror(L, 2, text);
        lua_pushnil(L);
        lua_pushstring(L, kind);
        lua_pushinteger(L, (lua_Integer)line);
        lua_pushlstring(L, text, length);
        report_reader_free(*box);
        *box = NULL;
        return 4;
    }
    struct report_reader_summary summary;
    report_reader_summarize(*box, &summary);
    int box_index = lua_gettop(L);
    lua_createtable(L, 0, 11);
    lua_pushstring(L, summary.format);
    lua_setfield(L, -2, "format");
    const struct {
        const char *name;
        uint64_t value;
    } counts[] = {{"rows", summary.rows},       {"selected", summary.selected},
                  {"entries", summary.entries}, {"shown", summary.shown},
                  {"first", summary.first},     {"last", summary.last}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        if (i >= 4 && !summary.has_times)
            break;
        lua_pushinteger(L, (lua_Integer)counts[i].value);
        lua_setfield(L, -2, counts[i].name);
    }
    lua_createtable(L, 0, REPORT_READER_COLUMNS);
    for (int c = 0; c < REPORT_READER_COLUMNS; c++) {
        size_t length;
        const char *text = report_reader_cell(*box, REPORT_READER_TOTAL, c, &length);
        lua_pushlstring(L, text, length);
        lua_setfield(L, -2, report_reader_column_name(c));
    }
    lua_setfield(L, -2, "total");
    lua_pushvalue(L, box_index);
    lua_pushcclosure(L, report_reader_lines_lua, 1);
    lua_setfield(L, -2, "lines");
    lua_pushvalue(L, box_index);
    lua_pushcclosure(L, report_reader_close_lua, 1);
    lua_setfield(L, -2, "close");
    return 1;
}

/* nasoone.core.community_id(row [, seed]) -> "1:..." for a 5-tuple row or record (a table
 * with source_ip, source_port, destination_ip, destination_port and protocols = { name }), or
 * nil, message when it is not one */
static int core_community_id(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer seed = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, seed >= 0 && seed <= 65535, 2, "a seed from 0 to 65535 expected");
    struct nasoone_row row;
    memset(&row, 0, sizeof row);
    static const char *const address_fields[2] = {"source_ip", "destination_ip"};
    static const char *const port_fields[2] = {"source_port", "destination_port"};
    uint8_t *bytes[2] = {row.source, row.destination};
    uint16_t *ports[2] = {&row.source_port, &row.destination_port};
    for (int i = 0; i < 2; i++) {
        lua_getfield(L, 1, address_fields[i]);
        const char *address = lua_tostring(L, -1);
        int family = address != NULL && strchr(address, ':') != NULL ? AF_INET6 : AF_INET;
        if (address == NULL || inet_pton(family, address, bytes[i]) != 1 ||
            (i == 1 && (family == AF_INET6) != (row.family == 6))) {
            luaL_pushfail(L);
            lua_pushfstring(L, "nasoone: %s is not an address of the row's family",
                            address_fields[i]);
            return 2;
        }
        row.family = family == AF_INET6 ? 6 : 4;
        lua_pop(L, 1);
        lua_getfield(L, 1, port_fields[i]);
        lua_Integer port = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : -1;
        lua_pop(L, 1);
        if (port < 0 || port > 65535) {
            luaL_pushfail(L);
            lua_pushfstring(L, "nasoone: %s is not a port", port_fields[i]);
            return 2;
        }
        *ports[i] = (uint16_t)port;
    }
    int number = -1;
    if (lua_getfield(L, 1, "protocols") == LUA_TTABLE && lua_rawlen(L, -1) == 1 &&
        lua_rawgeti(L, -1, 1) == LUA_TSTRING) {
        size_t length;
        const char *name = lua_tolstring(L, -1, &length);
        number = nasoone_protocol_number(name, length);
    }
    if (number <= 0) {
        luaL_pushfail(L);
        lua_pushliteral(L, "nasoone: not a 5-tuple row (protocols must name its one protocol)");
        return 2;
    }
    row.protocol = (uint8_t)number;
    char id[NASOONE_COMMUNITY_ID_SIZE];
    size_t length = nasoone_community_id(&row, (uint16_t)seed, id);
    lua_pushlstring(L, id, length);
    return 1;
}

/* nasoone.core.drop_privileges(user [, group]) -> true, or nil, message */
static int core_drop_privileges(lua_State *L)
{
    const char *user = check_text(L, 1);
    const char *group = lua_isnoneornil(L, 2) ? NULL : check_text(L, 2);
    char err[ERR_SIZE];
    if (nasoone_drop_privileges(user, group, err, sizeof err) != 0) {
        luaL_pushfail(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg core_functions[] = {
    {"new", capture_new},
    {"drop_privileges", core_drop_privileges},
    {"community_id", core_community_id},
    {"report_key", core_report_key},
    {"read_report", core_read_report},
    {"devices", core_devices},
    {"default_device", core_default_device},
    {NULL, NULL},
};

static const luaL_Reg report_methods[] = {
    {"rows", report_rows},
    {"totals", report_totals},
    {"close", report_close},
    {NULL, NULL},
};

static const luaL_Reg report_metamethods[] = {
    {"__gc", report_close}, {"__close", report_close},
    {"__len", report_len},  {"__tostring", report_tostring},
    {NULL, NULL},
};

int luaopen_nasoone_core(lua_State *L)
{
    /* luaL_newmetatable returns 0 when busted re-requires the module in the same state: the
     * existing metatable is reused as it is. */
    if (luaL_newmetatable(L, CAPTURE_TYPE)) { /* mt */
        luaL_setfuncs(L, capture_metamethods, 0);
        luaL_newlib(L, capture_methods); /* mt methods */
        lua_setfield(L, -2, "__index");  /* mt */
    }
    if (luaL_newmetatable(L, REPORT_TYPE)) { /* mt report_mt */
        luaL_setfuncs(L, report_metamethods, 0);
        luaL_newlib(L, report_methods);       /* mt report_mt methods */
        lua_pushcclosure(L, report_index, 1); /* mt report_mt __index */
        lua_setfield(L, -2, "__index");       /* mt report_mt */
    }
    lua_pop(L, 1);                  /* mt */
    luaL_newlib(L, core_functions); /* mt core */
    lua_getfield(L, -2, "__index"); /* mt core methods */
    lua_setfield(L, -2, "Capture"); /* mt core */
    lua_pushstring(L, pcap_lib_version());
    lua_setfield(L, -2, "pcap_version");
    lua_pushstring(L, NASOONE_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, nasoone_report_header());
    lua_setfield(L, -2, "report_header");
    return 1;
}

/* lua/nasoone.lua, compiled in by cmake/embed_lua.cmake */
extern const char nasoone_lua_source[];
extern const size_t nasoone_lua_source_size;

int luaopen_nasoone(lua_State *L)
{
    luaL_requiref(L, "nasoone.core", luaopen_nasoone_core, 0); /* core */
    lua_pop(L, 1);
    if (luaL_loadbufferx(L, nasoone_lua_source, nasoone_lua_source_size, "=nasoone.lua", "t") !=
        LUA_OK)
        return lua_error(L);
    lua_pushstring(L, "nasoone"); /* chunk "nasoone": the argument require passes */
    lua_call(L, 1, 1);            /* module */
    return 1;
}
