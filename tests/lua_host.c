/*
 * lua_host.c - a minimal Lua 5.4 interpreter for the sanitizer builds: `lua_host SCRIPT ARGS`.
 *
 * A sanitized module loaded into the system lua5.4 needs the sanitizer runtime preloaded, and
 * LD_PRELOAD then leaks into every child that busted or a spec starts (io.popen, os.execute),
 * where TSan breaks them. This host links the runtime itself, so children run clean. It does
 * what `lua5.4 SCRIPT ARGS` does for a script: `arg` table, error with traceback, exit status,
 * and Ctrl-C raising "interrupted!" in the running script (a second one kills the process).
 */
#include <signal.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

static lua_State *running_state;

/* Set from the signal handler: raises at the next call, return or few instructions. */
static void interrupt_hook(lua_State *L, lua_Debug *debug)
{
    (void)debug;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* What lua.c does on SIGINT: the next one kills, this one interrupts the script. */
static void on_interrupt(int signal_number)
{
    signal(signal_number, SIG_DFL);
    lua_sethook(running_state, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: lua_host SCRIPT [ARGS]\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    running_state = L;
    luaL_openlibs(L);
    lua_createtable(L, argc, 1); /* arg[0] = script, arg[1..] = its arguments */
    for (int i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");
    lua_pushcfunction(L, traceback);
    int status = luaL_loadfile(L, argv[1]);
    if (status == LUA_OK) {
        for (int i = 2; i < argc; i++)
            lua_pushstring(L, argv[i]);
        signal(SIGINT, on_interrupt);
        status = lua_pcall(L, argc - 2, 0, 1);
        signal(SIGINT, SIG_DFL);
    }
    if (status != LUA_OK)
        fprintf(stderr, "lua_host: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
