package components

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/pricing"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AWS list prices the Price List API is not asked for: they are the same in every commercial
// region and published as flat rates.
const (
	// PublicIPv4PerHour is the charge for a public IPv4 address in use or idle (since 2024-02).
	PublicIPv4PerHour = 0.005
	// SnapshotGBMonth is standard EBS snapshot storage.
	SnapshotGBMonth = 0.05
	hoursPerMonth   = 730
	hoursPerWeek    = 7 * 24
)

// Prices are the on-demand prices the stack's cost is made of, in USD.
type Prices struct {
	InstanceHour map[string]float64 // by instance type
	GP3GBMonth   float64
}

// Footprint is what the stack runs and stores.
type Footprint struct {
	Hub, Nfs, Worker string // instance types
	Workers          int
	// WorkerHoursPerWeek is how long the workers run in a week: 168 without a schedule.
	WorkerHoursPerWeek float64
	// DiskGiB is every gp3 volume: roots, the data volume and the hub's state.
	DiskGiB int
	// SnapshotGiB is the snapshot storage assumed: the whole data volume (an upper bound).
	SnapshotGiB int
	// Students share the week's cost.
	Students int
}

// Cost is the stack's cost, per part and in all.
type Cost struct {
	PerHourInClass float64            // everything running
	PerWeek        float64            // a camp week: the stack up for 7 days, workers by the schedule
	PerStudentWeek float64            // PerWeek / Students (0 without students)
	Parts          map[string]float64 // the week's cost by part
}

// WeekCost is the arithmetic behind the cost outputs (table-tested; README "Cost").
func WeekCost(p Prices, f Footprint) (Cost, error) {
	price := func(t string) (float64, error) {
		v, ok := p.InstanceHour[t]
		if !ok {
			return 0, fmt.Errorf("no price for %s", t)
		}
		return v, nil
	}
	hub, err := price(f.Hub)
	if err != nil {
		return Cost{}, err
	}
	nfs, err := price(f.Nfs)
	if err != nil {
		return Cost{}, err
	}
	worker, err := price(f.Worker)
	if err != nil {
		return Cost{}, err
	}
	wk := f.WorkerHoursPerWeek
	parts := map[string]float64{
		"hub":       hub * hoursPerWeek,
		"nfs":       nfs * hoursPerWeek,
		"workers":   worker * float64(f.Workers) * wk,
		"disks":     float64(f.DiskGiB) * p.GP3GBMonth * hoursPerWeek / hoursPerMonth,
		"snapshots": float64(f.SnapshotGiB) * SnapshotGBMonth * hoursPerWeek / hoursPerMonth,
		// The Elastic IP and the NFS server's address all week; each worker's while it runs.
		"publicIPv4": PublicIPv4PerHour * (2*hoursPerWeek + float64(f.Workers)*wk),
	}
	c := Cost{Parts: map[string]float64{}}
	for k, v := range parts {
		c.Parts[k] = round2(v)
		c.PerWeek += v
	}
	c.PerHourInClass = hub + nfs + worker*float64(f.Workers) +
		float64(f.DiskGiB)*p.GP3GBMonth/hoursPerMonth + float64(f.SnapshotGiB)*SnapshotGBMonth/hoursPerMonth +
		PublicIPv4PerHour*float64(2+f.Workers)
	if f.Students > 0 {
		c.PerStudentWeek = round2(c.PerWeek / float64(f.Students))
	}
	c.PerWeek, c.PerHourInClass = round2(c.PerWeek), round2(c.PerHourInClass*1000)/1000
	return c, nil
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// StackDiskGiB is every disk the stack pays for: the three roots, the hub's state volume and
// the student data volume.
func StackDiskGiB(workers, dataGiB int) int {
	return HubRootGiB + StateVolumeGiB + NfsRootGiB + workers*WorkerRootGiB + dataGiB
}

// FetchPrices asks the AWS Price List API (served from us-east-1, through a provider of its
// own) for the on-demand Linux price of each instance type and for gp3 storage in region.
func FetchPrices(ctx *pulumi.Context, region string, types []string) (Prices, error) {
	prov, err := aws.NewProvider(ctx, "pricing", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
	if err != nil {
		return Prices{}, fmt.Errorf("pricing provider: %w", err)
	}
	opt := pulumi.Provider(prov)
	p := Prices{InstanceHour: map[string]float64{}}
	for _, t := range types {
		if _, done := p.InstanceHour[t]; done {
			continue
		}
		res, err := pricing.GetProduct(ctx, &pricing.GetProductArgs{
			ServiceCode: "AmazonEC2",
			Filters: []pricing.GetProductFilter{
				{Field: "instanceType", Value: t},
				{Field: "regionCode", Value: region},
				{Field: "operatingSystem", Value: "Linux"},
				{Field: "preInstalledSw", Value: "NA"},
				{Field: "licenseModel", Value: "No License required"},
				{Field: "tenancy", Value: "Shared"},
				{Field: "capacitystatus", Value: "Used"},
			},
		}, opt)
		if err != nil {
			return p, fmt.Errorf("the price of %s in %s: %w", t, region, err)
		}
		if p.InstanceHour[t], err = onDemandUSD(res.Result, "Hrs"); err != nil {
			return p, fmt.Errorf("the price of %s in %s: %w", t, region, err)
		}
	}
	res, err := pricing.GetProduct(ctx, &pricing.GetProductArgs{
		ServiceCode: "AmazonEC2",
		Filters: []pricing.GetProductFilter{
			{Field: "productFamily", Value: "Storage"},
			{Field: "volumeApiName", Value: "gp3"},
			{Field: "regionCode", Value: region},
		},
	}, opt)
	if err != nil {
		return p, fmt.Errorf("the price of gp3 storage in %s: %w", region, err)
	}
	if p.GP3GBMonth, err = onDemandUSD(res.Result, "GB-Mo"); err != nil {
		return p, fmt.Errorf("the price of gp3 storage in %s: %w", region, err)
	}
	return p, nil
}

// onDemandUSD reads the one on-demand USD price per unit from a Price List product document.
func onDemandUSD(product, unit string) (float64, error) {
	var doc struct {
		Terms struct {
			OnDemand map[string]struct {
				PriceDimensions map[string]struct {
					Unit         string            `json:"unit"`
					PricePerUnit map[string]string `json:"pricePerUnit"`
				} `json:"priceDimensions"`
			} `json:"OnDemand"`
		} `json:"terms"`
	}
	if err := json.Unmarshal([]byte(product), &doc); err != nil {
		return 0, fmt.Errorf("reading the price list: %w", err)
	}
	var prices []float64
	for _, term := range doc.Terms.OnDemand {
		for _, d := range term.PriceDimensions {
			if d.Unit != unit {
				continue
			}
			v, err := strconv.ParseFloat(d.PricePerUnit["USD"], 64)
			if err != nil {
				return 0, fmt.Errorf("price %q is not a number", d.PricePerUnit["USD"])
			}
			prices = append(prices, v)
		}
	}
	if len(prices) != 1 {
		sort.Float64s(prices)
		return 0, fmt.Errorf("want one on-demand price per %s, found %v", unit, prices)
	}
	return prices[0], nil
}
