/*
 * lua_host.c - a minimal Lua 5.4 interpreter for the sanitizer builds: `lua_host SCRIPT ARGS`.
 *
 * A sanitized module loaded into the system lua5.4 needs the sanitizer runtime preloaded, and
 * LD_PRELOAD then leaks into every child that busted or a spec starts (io.popen, os.execute),
 * where TSan breaks them. This host links the runtime itself, so children run clean. It does
 * what `lua5.4 SCRIPT ARGS` does for a script: `arg` table, error with traceback, exit status.
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: lua_host SCRIPT [ARGS]\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
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
        status = lua_pcall(L, argc - 2, 0, 1);
    }
    if (status != LUA_OK)
        fprintf(stderr, "lua_host: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
