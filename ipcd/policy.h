/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.h - who may register, look up and call which service names.
 *
 * A rule is one line of ipcd.conf:
 *
 *   allow|deny ACTIONS WHO PATTERN
 *
 * ACTIONS is register, lookup, call, all, or a comma list of them; WHO is
 * '*', uid:N, user:NAME, gid:N or group:NAME (a process matches a gid rule
 * by its primary or a supplementary group); PATTERN is a shell pattern
 * (fnmatch) over service names. The first rule that matches decides; if
 * none does, default-policy does (allow, unless the file says deny).
 *
 * "call" applies to calls on a node registered under a name, checked
 * against that name. Refs to unnamed nodes (callbacks passed in parcels)
 * are capabilities: holding one is the permission.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef enum PolicyAction {
	POLICY_REGISTER = 1u << 0,
	POLICY_LOOKUP = 1u << 1,
	POLICY_CALL = 1u << 2,
} PolicyAction;

typedef struct PolicyRule {
	bool allow;
	unsigned actions;
	enum { POLICY_ANYONE, POLICY_UID, POLICY_GID } who;
	unsigned id;
	char *pattern;
} PolicyRule;

typedef struct Policy {
	PolicyRule *rules;
	size_t n_rules;
	bool default_deny;
} Policy;

/* The credentials a rule is matched against. */
typedef struct PolicySubject {
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary */
	size_t n_groups;
} PolicySubject;

/*
 * policy_add_rule() - parse "allow ..." or "deny ..." and append it.
 * Return: 0, -ENOMEM, or -EINVAL with a reason in *ret_error.
 */
int policy_add_rule(Policy *policy, const char *line, const char **ret_error);
void policy_clear(Policy *policy);
/* Copy @from into @to (which must be empty): rules are owned. */
int policy_copy(Policy *to, const Policy *from);

bool policy_allows(const Policy *policy, PolicyAction action, const PolicySubject *who,
		   const char *name);
