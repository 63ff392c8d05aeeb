package config

import "github.com/camphub/camphub/components"

// homeQuota settles each home folder's quota: camphub:homeQuotaGiB, or by default the volume's
// share for homes (components.HomesGiB) divided among the roster's teachers and students. A
// quota that, times the homes, exceeds that share is refused unless
// camphub:homeQuotaOvercommit says the operator means it.
func (l *loader) homeQuota(c *Config) {
	if l.failed("nfsVolumeSizeGiB") || l.failed("homeQuotaGiB") || l.failed("roster") {
		return
	}
	homes := c.Homes()
	share := components.HomesGiB(c.NfsVolumeSizeGiB)
	counted := "the roster's"
	if len(c.StudentEmails) == 0 {
		counted = "the whole domain's (assumed)"
	}
	if c.HomeQuotaGiB == 0 {
		c.HomeQuotaGiB = components.DefaultHomeQuotaGiB(c.NfsVolumeSizeGiB, homes)
		if c.HomeQuotaGiB == 0 && !c.HomeQuotaOvercommit {
			l.fail("nfsVolumeSizeGiB", "%d gives home folders %d GiB (%d %% of it), less than %d GiB for each of %s %d homes; grow it to %d, or set camphub:homeQuotaGiB (with camphub:homeQuotaOvercommit true to share the disk anyway)",
				c.NfsVolumeSizeGiB, share, components.HomesPercent, components.MinHomeQuotaGiB, counted, homes, minVolume(homes*components.MinHomeQuotaGiB))
		}
		if c.HomeQuotaGiB == 0 {
			c.HomeQuotaGiB = components.MinHomeQuotaGiB
		}
		return
	}
	if c.HomeQuotaGiB > c.NfsVolumeSizeGiB {
		l.fail("homeQuotaGiB", "%d is more than the whole %d GiB data volume (camphub:nfsVolumeSizeGiB); set it to at most %d, or 0 to size it from the volume and the roster", c.HomeQuotaGiB, c.NfsVolumeSizeGiB, max(share, 1))
		return
	}
	if need := c.HomeQuotaGiB * homes; need > share && !c.HomeQuotaOvercommit {
		l.fail("homeQuotaGiB", "%d GiB for each of %s %d homes is %d GiB, more than the %d GiB (%d %%) of the %d GiB data volume kept for homes; lower it to %d, grow camphub:nfsVolumeSizeGiB to %d, or set camphub:homeQuotaOvercommit true if you accept that the disk can fill before every home does",
			c.HomeQuotaGiB, counted, homes, need, share, components.HomesPercent, c.NfsVolumeSizeGiB, max(share/homes, 1), minVolume(need))
	}
}

// Homes is how many home folders the stack is sized for: the roster's teachers and students, or
// for a whole domain (no student list) its teachers and components.UnlistedHomes.
func (c *Config) Homes() int {
	if len(c.StudentEmails) == 0 {
		return len(c.AdminEmails) + components.UnlistedHomes
	}
	return len(c.AdminEmails) + len(c.StudentEmails)
}

// QuotaSlots is how many quota slots the file server keeps ready: one for every home the stack
// is sized for and components.SpareSlots more.
func (c *Config) QuotaSlots() int { return c.Homes() + components.SpareSlots }

// minVolume is the smallest data volume whose share for homes holds gib.
func minVolume(gib int) int {
	return (gib*100 + components.HomesPercent - 1) / components.HomesPercent
}
