/*
 * report_output_file.c - the report file as a report output (report_output.h): created whole
 * with the header only at start, then rewritten atomically with each report (a failure leaves
 * the previous report in place).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"
#include "report_output.h"

struct report_file {
    char *path;
    struct report_format format; /* a copy: the run's options are set in it */
    int folder_fd;               /* the folder, opened at start (O_PATH); -1 before */
};

/* Creates the file with the header only, whole or not at all (written aside, then linked to
 * its name): it reserves the name (failing if something appeared there since set_output) and
 * gives readers a valid, empty report at once. The folder is opened once, here: every rewrite
 * goes to this folder, even if its path is later renamed or replaced. A crash of an earlier
 * run could have left a named temporary of this report: removed first. */
static int report_file_start(struct report_output *output, char *err, size_t err_size)
{
    struct report_file *file = output->state;
    report_remove_leftovers(file->path);
    file->folder_fd = report_open_folder(file->path);
    if (file->folder_fd < 0) {
        output->error_code = errno_code(errno);
        return message_format(err, err_size, "nasoone: cannot open the output folder of %s: %s",
                              file->path, strerror(errno));
    }
    if (report_write_at(file->folder_fd, file->path, &file->format, NULL, NULL, 0, 0, err,
                        err_size) != 0) {
        output->error_code = errno == EEXIST ? "exists" : errno_code(errno);
        close(file->folder_fd);
        file->folder_fd = -1;
        return -1;
    }
    return 0;
}

static int report_file_write(struct report_output *output, const struct flow_row *const *rows,
                             const struct flow_row *const *reverse, size_t count, int final,
                             char *err, size_t err_size)
{
    struct report_file *file = output->state;
    (void) final;
    if (report_write_at(file->folder_fd, file->path, &file->format, rows, reverse, count, 1, err,
                        err_size) != 0)
        return -1;
    atomic_fetch_add(&output->written, 1);
    return 0;
}

static void report_file_destroy(struct report_output *output)
{
    struct report_file *file = output->state;
    if (file->folder_fd >= 0)
        close(file->folder_fd);
    free(file->path);
    free(file);
}

static const struct report_output_ops report_file_ops = {
    .start = report_file_start,
    .write = report_file_write,
    .destroy = report_file_destroy,
};

struct report_output *report_output_file_new(const char *path, const struct report_format *format)
{
    struct report_output *output = calloc(1, sizeof *output);
    struct report_file *file = calloc(1, sizeof *file);
    char *copy = strdup(path);
    if (output == NULL || file == NULL || copy == NULL) {
        free(output);
        free(file);
        free(copy);
        return NULL;
    }
    file->path = copy;
    file->format = *format;
    file->folder_fd = -1;
    output->ops = &report_file_ops;
    output->state = file;
    output->kind = "file";
    return output;
}
