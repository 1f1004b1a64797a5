/*
 * settings.h — a subcommand declared once: its settings as rows, and the
 * command around them.
 *
 * A row names a setting (the flag without "--", which is also its --config
 * key), its type, its default, its range and one line of help. From the rows
 * come the getopt table, the usage text, the --config keys (cli/config_file.h
 * checks keys against the getopt table), the range checks and the "is
 * required" checks, so a setting cannot be documented in one place and parsed
 * differently in another.
 *
 * Values are written into the command's settings struct at each row's
 * offset: `settings` below is that struct. A subcommand is a pb_command (its
 * rows, what ties them together, what runs) and one call to
 * pb_command_run(); subcommands under one name (`app add|list|remove`) are a
 * pb_command_group.
 */
#ifndef PB_CLI_SETTINGS_H
#define PB_CLI_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pb_setting_type {
    PB_SETTING_UINT,   /* a decimal integer in [min, max], stored in an unsigned field of `width` bytes */
    PB_SETTING_FLAG,   /* no value; sets a bool */
    PB_SETTING_STRING, /* a value kept as given (a const char *) */
    PB_SETTING_CHOICE, /* one of `choices`, stored as its index in an int field (left as it was when not given) */
    PB_SETTING_CUSTOM, /* a value `parse` turns into the field; it returns NULL or the problem */
} pb_setting_type;

typedef struct pb_setting {
    const char *name;     /* "max-query-items" */
    const char *arg;      /* what the value looks like in the usage text: "N", "DIR"; NULL for a flag */
    pb_setting_type type;
    size_t offset;        /* of the field in the settings struct */
    size_t width;         /* PB_SETTING_UINT: sizeof the field */
    uint64_t min, max;    /* PB_SETTING_UINT: the range a given value must be in */
    uint64_t fallback;    /* PB_SETTING_UINT: the default (may be outside the range: 0 for "off") */
    const char *const *choices; /* PB_SETTING_CHOICE: NULL-terminated names */
    /* PB_SETTING_CUSTOM: a static message, printed after the flag's name (never the value: it may be a secret). */
    const char *(*parse)(const char *text, void *field);
    const char *help;     /* one line */
    const char *default_text; /* the default as the usage text says it; NULL: the number, or nothing */
    bool required;        /* the command does not run without it (from the command line or --config) */
} pb_setting;

/* Rows, for readable tables: a number in [min, max] with a default. */
#define PB_SETTING_U(name_, arg_, type_, field_, min_, max_, fallback_, help_, default_text_)                      \
    {.name = name_, .arg = arg_, .type = PB_SETTING_UINT, .offset = offsetof(type_, field_),                      \
     .width = sizeof(((type_ *)0)->field_), .min = min_, .max = max_, .fallback = fallback_, .help = help_,        \
     .default_text = default_text_}
/* A string kept as given; the second one must be given. */
#define PB_SETTING_S(name_, arg_, type_, field_, help_, default_text_)                                             \
    {.name = name_, .arg = arg_, .type = PB_SETTING_STRING, .offset = offsetof(type_, field_), .help = help_,      \
     .default_text = default_text_}
#define PB_SETTING_REQUIRED_S(name_, arg_, type_, field_, help_)                                                  \
    {.name = name_, .arg = arg_, .type = PB_SETTING_STRING, .offset = offsetof(type_, field_), .help = help_,      \
     .required = true}
#define PB_SETTING_F(name_, type_, field_, help_)                                                                 \
    {.name = name_, .type = PB_SETTING_FLAG, .offset = offsetof(type_, field_), .help = help_}
/* One of `choices_`; `arg_` lists them for the usage text ("text|json|off"). */
#define PB_SETTING_C(name_, arg_, type_, field_, choices_, help_, default_text_)                                  \
    {.name = name_, .arg = arg_, .type = PB_SETTING_CHOICE, .offset = offsetof(type_, field_),                    \
     .choices = choices_, .help = help_, .default_text = default_text_}

/* The rows of a table, for a pb_command's initializer. */
#define PB_ROWS(rows_) .rows = rows_, .n = sizeof(rows_) / sizeof((rows_)[0])

typedef struct pb_command pb_command;

struct pb_command {
    const char *name;     /* "import", "app add": in messages and the usage text */
    const char *summary;  /* one line, for a group's list */
    const char *intro;    /* the usage line(s) and what the command does: the usage text above the flags */
    const char *outro;    /* the usage text below the flags (formats, exit status); NULL: nothing */
    const pb_setting *rows;
    size_t n;
    /* "FILE": the command takes exactly one argument besides the flags, a const char * at operand_offset. */
    const char *operand;
    size_t operand_offset;
    bool takes_config;    /* --config FILE (cli/config_file.h) */
    /*
     * Ties settings together once all are read (one of two flags, values
     * derived from others). Returns PB_EXIT_OK or, after printing the problem
     * (pb_cli_usage_error()), PB_EXIT_USAGE. NULL: nothing to tie.
     */
    int (*check)(const pb_command *command, void *settings);
    /* Does the work. Returns PB_EXIT_OK or PB_EXIT_FAILURE (after printing why). */
    int (*run)(void *settings);
};

/*
 * `pushbind COMMAND ...`; argv[0] is the command's last word. Writes every
 * number row's default into `settings` (other fields keep what the caller
 * put there: defaults that are not a row's), splices in --config FILE when
 * the command takes it, parses argv, then checks required rows, the operand
 * and command->check, and calls command->run. --help prints the usage text on
 * stdout instead. Returns the exit code: what run returned, PB_EXIT_OK after
 * --help, PB_EXIT_USAGE after printing one line about a bad command line, or
 * PB_EXIT_FAILURE (a --config file that cannot be read).
 */
int pb_command_run(const pb_command *command, int argc, char **argv, void *settings);

/* Commands under one name: `pushbind app add|list|remove`. */
typedef struct pb_command_group {
    const char *name;   /* "app" */
    const char *intro;  /* the usage text above the list of commands */
    const char *outro;  /* below it; NULL: nothing */
    const pb_command *const *commands; /* each named "GROUP WORD" ("app add") */
    size_t n;
} pb_command_group;

/*
 * `pushbind GROUP WORD ...`; argv[0] is the group's name. Runs the command
 * WORD names with pb_command_run(). `pushbind GROUP --help` prints the usage
 * text (the intro, one line per command, the outro) on stdout and returns
 * PB_EXIT_OK; without WORD it goes to stderr and PB_EXIT_USAGE is returned, as
 * for an unknown WORD.
 */
int pb_command_group_run(const pb_command_group *group, int argc, char **argv, void *settings);

#endif
