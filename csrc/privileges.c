/*
 * privileges.c - nasoone_drop_privileges (nasoone.h): the user, groups and capabilities a
 * capture runs with once its device is open, as tcpdump -Z and nfpcapd -u do.
 *
 * Opening a device needs CAP_NET_RAW (root, or a capability given to the interpreter or by a
 * service manager); reading it afterwards does not: the socket stays open. So the caller opens
 * the device, drops here, and starts the capture: every thread the capture makes is born with
 * the lowered rights (capabilities are per thread in Linux, hence before start).
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "message.h"
#include "nasoone.h"

/* Empties the calling thread's capability sets (effective, permitted, inheritable) and the
 * ambient set; the bounding set is left: nothing can be regained without a set-ID program, and
 * no_new_privs forbids those. */
static int drop_capabilities(void)
{
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -1; /* EINVAL: a kernel without ambient capabilities */
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &header, data);
}

int nasoone_drop_privileges(const char *user, const char *group, char *err, size_t err_size)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL)
        return message_format(err, err_size, "nasoone: no user %s%s%s", user,
                              errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    if (group != NULL) {
        errno = 0;
        struct group *gr = getgrnam(group);
        if (gr == NULL)
            return message_format(err, err_size, "nasoone: no group %s%s%s", group,
                                  errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
        gid = gr->gr_gid;
    }
    /* the user's own supplementary groups (none of root's): initgroups, or the one group */
    int groups_set = group != NULL ? setgroups(1, &gid) : initgroups(user, gid);
    if (groups_set != 0 || setgid(gid) != 0 || setuid(uid) != 0)
        return message_format(err, err_size, "nasoone: cannot become user %s: %s", user,
                              strerror(errno));
    if (drop_capabilities() != 0)
        return message_format(err, err_size, "nasoone: cannot drop the capabilities: %s",
                              strerror(errno));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return message_format(err, err_size, "nasoone: cannot set no_new_privs: %s",
                              strerror(errno));
    /* no way back: a process that could become root again has not dropped anything */
    if (uid != 0 && setuid(0) == 0)
        return message_format(err, err_size, "nasoone: user %s could become root again", user);
    return 0;
}
