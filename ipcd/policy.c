/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.c - access rules (see policy.h). Names of users and groups are
 * resolved once, when the file is read (before the sandbox closes NSS off).
 */
#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "ipcd/policy.h"

static int parse_actions(char *word, unsigned *ret)
{
	unsigned actions = 0;
	char *save = NULL;

	for (char *a = strtok_r(word, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		if (strcmp(a, "register") == 0)
			actions |= POLICY_REGISTER;
		else if (strcmp(a, "lookup") == 0)
			actions |= POLICY_LOOKUP;
		else if (strcmp(a, "call") == 0)
			actions |= POLICY_CALL;
		else if (strcmp(a, "all") == 0)
			actions |= POLICY_REGISTER | POLICY_LOOKUP | POLICY_CALL;
		else
			return -EINVAL;
	}
	if (actions == 0)
		return -EINVAL;
	*ret = actions;
	return 0;
}

static int parse_number(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX - 1)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_who(const char *word, PolicyRule *rule, const char **ret_error)
{
	if (strcmp(word, "*") == 0) {
		rule->who = POLICY_ANYONE;
		return 0;
	}
	if (strncmp(word, "uid:", 4) == 0) {
		rule->who = POLICY_UID;
		return parse_number(word + 4, &rule->id) < 0 ? (*ret_error = "bad uid", -EINVAL) :
							       0;
	}
	if (strncmp(word, "gid:", 4) == 0) {
		rule->who = POLICY_GID;
		return parse_number(word + 4, &rule->id) < 0 ? (*ret_error = "bad gid", -EINVAL) :
							       0;
	}
	if (strncmp(word, "user:", 5) == 0) {
		struct passwd *pw = getpwnam(word + 5);

		if (!pw)
			return *ret_error = "no such user", -EINVAL;
		rule->who = POLICY_UID;
		rule->id = pw->pw_uid;
		return 0;
	}
	if (strncmp(word, "group:", 6) == 0) {
		struct group *gr = getgrnam(word + 6);

		if (!gr)
			return *ret_error = "no such group", -EINVAL;
		rule->who = POLICY_GID;
		rule->id = gr->gr_gid;
		return 0;
	}
	*ret_error = "WHO must be *, uid:N, user:NAME, gid:N or group:NAME";
	return -EINVAL;
}

static int append(Policy *p, const PolicyRule *rule)
{
	PolicyRule *rules = realloc(p->rules, (p->n_rules + 1) * sizeof(*rules));

	if (!rules)
		return -ENOMEM;
	p->rules = rules;
	rules[p->n_rules] = *rule;
	rules[p->n_rules].pattern = strdup(rule->pattern);
	if (!rules[p->n_rules].pattern)
		return -ENOMEM;
	p->n_rules++;
	return 0;
}

int policy_add_rule(Policy *p, const char *line, const char **ret_error)
{
	_cleanup_free_ char *copy = strdup(line);
	char *save = NULL, *verb, *actions, *who, *pattern, *extra;
	PolicyRule rule = {};
	int r;

	if (!copy)
		return -ENOMEM;
	verb = strtok_r(copy, " \t", &save);
	actions = strtok_r(NULL, " \t", &save);
	who = strtok_r(NULL, " \t", &save);
	pattern = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!verb || !pattern || extra) {
		*ret_error = "expected 'allow|deny ACTIONS WHO PATTERN'";
		return -EINVAL;
	}
	if (strcmp(verb, "allow") == 0)
		rule.allow = true;
	else if (strcmp(verb, "deny") != 0) {
		*ret_error = "a rule starts with allow or deny";
		return -EINVAL;
	}
	if (parse_actions(actions, &rule.actions) < 0) {
		*ret_error = "ACTIONS must be register, lookup, call, all, or a comma list";
		return -EINVAL;
	}
	r = parse_who(who, &rule, ret_error);
	if (r < 0)
		return r;
	rule.pattern = pattern;
	return append(p, &rule);
}

void policy_clear(Policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++)
		free(p->rules[i].pattern);
	free(p->rules);
	*p = (Policy){};
}

int policy_copy(Policy *to, const Policy *from)
{
	to->default_deny = from->default_deny;
	for (size_t i = 0; i < from->n_rules; i++)
		if (append(to, &from->rules[i]) < 0) {
			policy_clear(to);
			return -ENOMEM;
		}
	return 0;
}

static bool who_matches(const PolicyRule *rule, const PolicySubject *who)
{
	switch (rule->who) {
	case POLICY_ANYONE:
		return true;
	case POLICY_UID:
		return who->uid == rule->id;
	case POLICY_GID:
		if (who->gid == rule->id)
			return true;
		for (size_t i = 0; i < who->n_groups; i++)
			if (who->groups[i] == rule->id)
				return true;
		return false;
	}
	return false;
}

bool policy_allows(const Policy *p, PolicyAction action, const PolicySubject *who, const char *name)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		const PolicyRule *rule = &p->rules[i];

		if ((rule->actions & action) && who_matches(rule, who) &&
		    fnmatch(rule->pattern, name, 0) == 0)
			return rule->allow;
	}
	return !p->default_deny;
}
