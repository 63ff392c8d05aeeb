package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
)

// regions are the AWS provider's regions (its aws.Region values at the pinned SDK), which the
// provider itself accepts for aws:region.
var regions = []aws.Region{
	aws.RegionAFSouth1, aws.RegionAPEast1, aws.RegionAPNortheast1, aws.RegionAPNortheast2, aws.RegionAPNortheast3,
	aws.RegionAPSouth1, aws.RegionAPSouth2, aws.RegionAPSoutheast1, aws.RegionAPSoutheast2, aws.RegionAPSoutheast3,
	aws.RegionAPSoutheast4, aws.RegionAPSoutheast5, aws.RegionAPSoutheast7, aws.RegionCACentral, aws.RegionCAWest1,
	aws.RegionEUCentral1, aws.RegionEUCentral2, aws.RegionEUNorth1, aws.RegionEUSouth1, aws.RegionEUSouth2,
	aws.RegionEUWest1, aws.RegionEUWest2, aws.RegionEUWest3, aws.RegionILCentral1, aws.RegionMECentral1,
	aws.RegionMESouth1, aws.RegionMXCentral1, aws.RegionSAEast1, aws.RegionUSEast1, aws.RegionUSEast2,
	aws.RegionUSWest1, aws.RegionUSWest2, aws.RegionCNNorth1, aws.RegionCNNorthwest1, aws.RegionUSGovEast1,
	aws.RegionUSGovWest1, aws.RegionUSISOEast1, aws.RegionUSISOWest1, aws.RegionUSISOBEast1, aws.RegionEUISOEWest1,
}

// zoneRe is an availability zone's name: a region and a letter (us-west-2a).
var zoneRe = regexp.MustCompile(`^([a-z]{2}(-[a-z]+)+-[0-9])[a-z]$`)

// region checks aws:region against the provider's regions; the problem says what to set.
func region(v string) (string, error) {
	if isRegion(v) {
		return v, nil
	}
	fix := func(r string) error {
		return fmt.Errorf("aws:region %q is not an AWS region; did you mean %s? Set it with `pulumi config set aws:region %s`", v, r, r)
	}
	if m := zoneRe.FindStringSubmatch(v); m != nil && isRegion(m[1]) {
		return "", fmt.Errorf("aws:region %q is an availability zone, not a region; set the region with `pulumi config set aws:region %s` (camphub picks the zone itself)", v, m[1])
	}
	norm := strings.NewReplacer(" ", "-", "_", "-").Replace(strings.ToLower(strings.TrimSpace(v)))
	if isRegion(norm) {
		return "", fix(norm)
	}
	best, bestDist := "", 1<<30
	for _, r := range regions {
		if d := editDistance(norm, string(r)); d < bestDist {
			best, bestDist = string(r), d
		}
	}
	if bestDist <= 3 {
		return "", fix(best)
	}
	return "", fmt.Errorf("aws:region %q is not an AWS region (region codes look like us-west-2 or eu-central-1: `aws ec2 describe-regions` lists them); set it with `pulumi config set aws:region us-west-2`", v)
}

func isRegion(v string) bool {
	for _, r := range regions {
		if v == string(r) {
			return true
		}
	}
	return false
}
