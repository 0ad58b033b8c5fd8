/*
 * host.c - a C program that embeds Lua 5.4 and links nasoone statically: the way a
 * Lua-scriptable tool gives its scripts packet captures.
 *
 *   cc host.c $(pkg-config --cflags --libs nasoone) -o host
 *   ./host SCRIPT.lua [ARGS...]
 *
 * It opens the standard libraries, preloads nasoone (package.preload, so require("nasoone")
 * finds it without any search path: the host clears package.path and package.cpath to show
 * it), and runs SCRIPT with its arguments in `arg`, as lua5.4 would.
 */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <nasoone.h>

static int traceback(lua_State *L)
{
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT.lua [ARGS...]\n", argv[0]);
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (L == NULL)
        return 1;
    luaL_openlibs(L);

    /* require("nasoone") -> luaopen_nasoone, from this binary; nothing from the disk */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE); /* preload */
    lua_pushcfunction(L, luaopen_nasoone);
    lua_setfield(L, -2, "nasoone");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);

    lua_createtable(L, argc, 0); /* arg[0] = script, arg[1..] = its arguments */
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
        fprintf(stderr, "%s: %s\n", argv[0], lua_tostring(L, -1));
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
