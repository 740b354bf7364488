/*
 * common/list.h - intrusive doubly linked lists (2026-12-06).
 *
 * Embed a struct mm_list in the object; a list head is a struct mm_list
 * of its own. No allocation, O(1) insert and delete, and an object can sit
 * on several lists through several members. The caller provides locking.
 *
 *   struct tok { struct mm_list lru; ... };
 *   MM_LIST_HEAD(lru_head);
 *   mm_list_add_tail(&lru_head, &t->lru);
 *   mm_list_for_each_safe(pos, tmp, &lru_head) {
 *           struct tok *t = mm_list_entry(pos, struct tok, lru); ... }
 *
 * A member that is on no list points to itself (mm_list_init, and
 * mm_list_del leaves it so), so mm_list_linked() tells whether it is on one.
 */
#ifndef MM_COMMON_LIST_H
#define MM_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct mm_list {
	struct mm_list *next, *prev;
};

#define MM_LIST_HEAD(name) struct mm_list name = {&(name), &(name)}

#define mm_list_entry(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline void mm_list_init(struct mm_list *l)
{
	l->next = l->prev = l;
}

static inline bool mm_list_empty(const struct mm_list *head)
{
	return head->next == head;
}

/* Is the member <n> on a list? */
static inline bool mm_list_linked(const struct mm_list *n)
{
	return n->next != n;
}

static inline void mm_list_insert_(struct mm_list *n, struct mm_list *prev, struct mm_list *next)
{
	n->next = next;
	n->prev = prev;
	prev->next = n;
	next->prev = n;
}

static inline void mm_list_add_head(struct mm_list *head, struct mm_list *n)
{
	mm_list_insert_(n, head, head->next);
}

static inline void mm_list_add_tail(struct mm_list *head, struct mm_list *n)
{
	mm_list_insert_(n, head->prev, head);
}

/* Take <n> off its list; <n> is left pointing to itself. */
static inline void mm_list_del(struct mm_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	mm_list_init(n);
}

/* Move <n> (on any list, or none) to the tail of <head>. */
static inline void mm_list_move_tail(struct mm_list *head, struct mm_list *n)
{
	mm_list_del(n);
	mm_list_add_tail(head, n);
}

/* First member, or NULL for an empty list. */
static inline struct mm_list *mm_list_first(const struct mm_list *head)
{
	return mm_list_empty(head) ? NULL : head->next;
}

#define mm_list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Safe against deleting <pos> in the body. */
#define mm_list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
