/* The bump allocator yajl's parsers take their blocks from (common/arena.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdalign.h>
#include <string.h>

#include "common/arena.h"

#define BYTES 1024

static bool inside(const max_align_t *bytes, const void *p)
{
    return (uintptr_t)p >= (uintptr_t)bytes && (uintptr_t)p < (uintptr_t)bytes + BYTES;
}

static void blocks_are_aligned_and_apart(void **state)
{
    max_align_t bytes[BYTES / sizeof(max_align_t)];
    pb_arena arena;
    pb_arena_init(&arena, bytes, sizeof(bytes), NULL);
    unsigned char *a = pb_arena_malloc(&arena, 3), *b = pb_arena_malloc(&arena, 40), *c = pb_arena_malloc(&arena, 1);
    const unsigned char *blocks[] = {a, b, c};
    for (size_t i = 0; i < 3; i++) {
        assert_true(inside(bytes, blocks[i]));
        assert_int_equal((uintptr_t)blocks[i] % alignof(max_align_t), 0);
    }
    memset(a, 'a', 3);
    memset(b, 'b', 40);
    memset(c, 'c', 1);
    assert_true(a + 3 <= b && b + 40 <= c);
    assert_int_equal(a[2], 'a');
    assert_int_equal(b[39], 'b');
}

/* The newest block grows where it is while there is room; another moves, keeping its bytes. */
static void realloc_grows_the_newest_in_place_and_moves_the_others(void **state)
{
    max_align_t bytes[BYTES / sizeof(max_align_t)];
    pb_arena arena;
    pb_arena_init(&arena, bytes, sizeof(bytes), NULL);
    char *older = pb_arena_malloc(&arena, 16);
    strcpy(older, "older");
    char *newest = pb_arena_malloc(&arena, 16);
    strcpy(newest, "newest");
    assert_ptr_equal(pb_arena_realloc(&arena, newest, 200), newest);
    assert_string_equal(newest, "newest");
    char *moved = pb_arena_realloc(&arena, older, 100);
    assert_ptr_not_equal(moved, older);
    assert_true(inside(bytes, moved));
    assert_string_equal(moved, "older");
    assert_ptr_equal(pb_arena_realloc(&arena, moved, 8), moved); /* shrinking keeps the block */
}

/* Past the arena, blocks come from the pool and keep their bytes when they grow. */
static void a_full_arena_overflows_into_the_pool(void **state)
{
    max_align_t bytes[BYTES / sizeof(max_align_t)];
    pb_pool pool;
    pb_pool_init(&pool);
    pb_arena arena;
    pb_arena_init(&arena, bytes, sizeof(bytes), &pool);
    char *big = pb_arena_malloc(&arena, 2 * BYTES);
    assert_false(inside(bytes, big));
    memset(big, 'x', 2 * BYTES);
    char *bigger = pb_arena_realloc(&arena, big, 4 * BYTES);
    assert_int_equal(bigger[2 * BYTES - 1], 'x');
    pb_arena_free(&arena, bigger); /* the pool's: nothing to do */
    assert_true(inside(bytes, pb_arena_malloc(&arena, 8))); /* the arena is still there for small blocks */
    pb_pool_clear(&pool);
}

/* Without a pool, what does not fit is malloc()'ed, and realloc() and free() reach it (LeakSanitizer checks). */
static void without_a_pool_overflow_is_malloc_and_freed(void **state)
{
    max_align_t bytes[BYTES / sizeof(max_align_t)];
    pb_arena arena;
    pb_arena_init(&arena, bytes, sizeof(bytes), NULL);
    char *big = pb_arena_malloc(&arena, 2 * BYTES);
    assert_non_null(big);
    assert_false(inside(bytes, big));
    memset(big, 'y', 2 * BYTES);
    big = pb_arena_realloc(&arena, big, 8 * BYTES);
    assert_int_equal(big[2 * BYTES - 1], 'y');
    pb_arena_free(&arena, big);

    char *small = pb_arena_malloc(&arena, BYTES - 64);
    strcpy(small, "moves out");
    char *out = pb_arena_realloc(&arena, small, 2 * BYTES); /* no room left in the arena */
    assert_false(inside(bytes, out));
    assert_string_equal(out, "moves out");
    pb_arena_free(&arena, out);
    pb_arena_free(&arena, small); /* the arena's: nothing to do */
    pb_arena_free(&arena, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocks_are_aligned_and_apart),
        cmocka_unit_test(realloc_grows_the_newest_in_place_and_moves_the_others),
        cmocka_unit_test(a_full_arena_overflows_into_the_pool),
        cmocka_unit_test(without_a_pool_overflow_is_malloc_and_freed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
