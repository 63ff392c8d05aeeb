package config

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/camphub/camphub/provision"
)

// Longest e-mail address parts (RFC 5321 4.5.3.1): every address the config accepts must give
// a working notebook service name and home folder (provision's name tests use these bounds).
const (
	MaxLocalPart = 64
	MaxEmail     = 254
)

// people reads who logs in: the OAuth client, the roster (lists or file), the hosted domain,
// and where last year's homes come from.
func (l *loader) people(c *Config) {
	if c.OAuthClientID != "" && !clientIDRe.MatchString(c.OAuthClientID) {
		l.fail("oauthClientId", "%q is not a Google OAuth client id; copy the id (NNNN-xxxx.apps.googleusercontent.com) from the Google console's Credentials page", c.OAuthClientID)
	} else if c.OAuthClientID == "" {
		l.fail("oauthClientId", "is empty; create an OAuth client in the Google console and set its id with `pulumi config set %s:oauthClientId ID`", ns)
	}
	c.OAuthClientSecret = l.oauthSecret()

	for _, e := range c.StudentEmails {
		if slices.Contains(c.AdminEmails, e) {
			l.fail("studentEmails", "lists %q, who is also in camphub:adminEmails; list a teacher once, in adminEmails (a teacher is an admin and needs no student seat), and remove it from studentEmails", e)
		}
	}
	if c.RosterFile != "" {
		if len(c.AdminEmails) > 0 || len(c.StudentEmails) > 0 {
			l.fail("roster", "and camphub:adminEmails/studentEmails both list the class; keep one source: move the addresses into %s and remove the lists (`pulumi config rm camphub:studentEmails`)", c.RosterFile)
		}
		c.AdminEmails, c.StudentEmails, c.DisplayNames = l.rosterFile(c.RosterFile)
	}
	switch {
	case c.NfsVolumeID != "" && c.NfsSnapshotID != "":
		l.fail("nfsVolumeId", "and camphub:nfsSnapshotId are both set; set one: the kept volume itself (nfsVolumeId) or a new volume from a snapshot (nfsSnapshotId)")
	case c.NfsVolumeID != "" && !volumeIDRe.MatchString(c.NfsVolumeID):
		l.fail("nfsVolumeId", "%q is not an EBS volume id (vol- and 17 hex digits, from `aws ec2 describe-volumes --filters Name=tag:Project,Values=camphub`)", c.NfsVolumeID)
	case c.NfsSnapshotID != "" && !snapshotIDRe.MatchString(c.NfsSnapshotID):
		l.fail("nfsSnapshotId", "%q is not an EBS snapshot id (snap- and 17 hex digits, from `aws ec2 describe-snapshots --owner-ids self`)", c.NfsSnapshotID)
	}
	if c.CourseDir != "" {
		c.CourseDigest = l.courseDir(c.CourseDir)
	}
	if len(c.AdminEmails) == 0 && !l.failed("adminEmails") && !l.failed("roster") {
		l.fail("adminEmails", "must list at least one teacher's Google e-mail address: admins manage the hub from its admin page")
	}
	if c.HostedDomain != "" {
		if !domainRe.MatchString(c.HostedDomain) {
			l.fail("hostedDomain", "%q is not a domain name such as example.edu", c.HostedDomain)
		} else if consumerDomains[c.HostedDomain] {
			l.fail("hostedDomain", "%q is Google's consumer mail, whose accounts carry no hosted domain, so nobody could log in; leave hostedDomain empty and list the students' addresses in camphub:studentEmails", c.HostedDomain)
		} else {
			l.inDomain("adminEmails", c.AdminEmails, c.HostedDomain)
			l.inDomain("studentEmails", c.StudentEmails, c.HostedDomain)
		}
	}
	if len(c.StudentEmails) == 0 && c.HostedDomain == "" && !l.failed("studentEmails") && !l.failed("roster") {
		l.fail("studentEmails", "is empty and camphub:hostedDomain is not set, so no student could log in; list the students' e-mails or set hostedDomain to admit a whole Google Workspace domain")
	}

}

// email checks one Google e-mail address; at, when not empty, says where it was found (a
// roster file's line) and starts every message.
func (l *loader) email(key, at, v string) (string, bool) {
	if at != "" {
		at += ": "
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || addr.Name != "" {
		l.fail(key, "%s%q is not a plain e-mail address (write it as name@example.org)", at, v)
		return "", false
	}
	sep := strings.LastIndexByte(v, '@')
	if sep > MaxLocalPart || len(v) > MaxEmail {
		l.fail(key, "%s%q is longer than an e-mail address can be (at most %d characters before the @, %d in all); copy the address again from the class list", at, v, MaxLocalPart, MaxEmail)
		return "", false
	}
	if !domainRe.MatchString(strings.ToLower(v[sep+1:])) {
		l.fail(key, "%s%q has no valid domain after the @; write the whole address, such as name@example.org", at, v)
		return "", false
	}
	if v != strings.ToLower(v) {
		l.fail(key, "%s%q must be lower case (Google reports addresses in lower case, and JupyterHub user names are case-sensitive); write it as %q", at, v, strings.ToLower(v))
		return "", false
	}
	if strings.HasPrefix(v, provision.Layout.ProbePrefix) {
		l.fail(key, "%s%q starts with %q, which camphub keeps for its smoke probes' users; remove it from the roster (this account cannot use the hub)", at, v, provision.Layout.ProbePrefix)
		return "", false
	}
	return v, true
}

func (l *loader) emails(key string) []string {
	var out []string
	seen := map[string]bool{}
	for _, raw := range l.list(key) {
		v, ok := l.email(key, "", strings.TrimSpace(raw))
		if !ok {
			continue
		}
		if seen[v] {
			l.fail(key, "lists %q twice; remove the duplicate", v)
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// consumerDomains are Google's own mail domains: their accounts carry no hosted-domain claim.
var consumerDomains = map[string]bool{"gmail.com": true, "googlemail.com": true}

// inDomain refuses addresses that Google login restricted to domain would turn away.
func (l *loader) inDomain(key string, emails []string, domain string) {
	for _, e := range emails {
		if !strings.HasSuffix(e, "@"+domain) {
			l.fail(key, "%q is outside camphub:hostedDomain %s and could never log in; remove it or clear hostedDomain", e, domain)
		}
	}
}

// oauthSecret reads the OAuth client secret, which must have been set with --secret:
// a plaintext value in Pulumi.<stack>.yaml would end up in git.
func (l *loader) oauthSecret() pulumi.StringOutput {
	const key = "oauthClientSecret"
	fix := fmt.Sprintf("`pulumi config set --secret %s:%s` with the secret from the Google console", ns, key)
	v, err := pconfig.TrySecret(l.ctx, ns+":"+key)
	if err != nil {
		l.fail(key, "is not set; set it with %s", fix)
		return v
	}
	if !l.ctx.IsConfigSecret(ns + ":" + key) {
		l.fail(key, "is stored in plain text; remove it (`pulumi config rm %s:%s`) and set it again with %s", ns, key, fix)
	}
	plain, _ := l.ctx.GetConfig(ns + ":" + key)
	switch plain = strings.TrimSpace(plain); {
	case plain == "":
		l.fail(key, "is empty; set it with %s", fix)
	case clientIDRe.MatchString(plain):
		l.fail(key, "holds an OAuth client id, not the client secret; copy the secret (not the id) from the Google console and set it with %s", fix)
	case len(plain) < 16 || strings.ContainsAny(plain, " \t\n"):
		l.fail(key, "does not look like a Google OAuth client secret (%d characters, or spaces in it); copy it again from the Google console and set it with %s", len(plain), fix)
	}
	return v
}
