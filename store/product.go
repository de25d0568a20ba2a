package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"keel/cache"
	"keel/db"
)

// Product is an item of the catalogue. Prices are in minor units
// (cents) of Currency.
type Product struct {
	ID          int64
	SKU         string
	Name        string
	Description string
	PriceMinor  int64
	Currency    string
	Active      bool
	ImageURL    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ProductInput is what staff enter for a product.
type ProductInput struct {
	SKU         string
	Name        string
	Description string
	PriceMinor  int64
	Currency    string
	Active      bool
	ImageURL    string
}

var catalogueKey = cache.Key{Family: "catalogue", ID: "active"}

func productKey(sku string) cache.Key { return cache.Key{Family: "product", ID: sku} }

// ProductCreate adds a product, audited. A taken SKU is ErrConflict.
func (s *Store) ProductCreate(ctx context.Context, actor Actor, in ProductInput) (Product, error) {
	var p Product
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		row, err := q.ProductCreate(ctx, db.ProductCreateParams{
			Sku: in.SKU, Name: in.Name, Description: in.Description, PriceMinor: in.PriceMinor,
			Currency: in.Currency, Active: in.Active, ImageUrl: in.ImageURL,
		})
		if err != nil {
			return fmt.Errorf("insert product: %w", err)
		}
		p = productFromRow(row)
		return audit(ctx, q, actor, "product.created", p, map[string]any{"sku": p.SKU, "price_minor": p.PriceMinor})
	})
	if err == nil {
		s.invalidate(ctx, catalogueKey, productKey(p.SKU))
	}
	return p, err
}

// ProductUpdate changes a product (not its SKU), audited with the old
// and new price.
func (s *Store) ProductUpdate(ctx context.Context, actor Actor, id int64, in ProductInput) (Product, error) {
	var p Product
	err := s.inTx(ctx, func(_ pgx.Tx, q *db.Queries) error {
		before, err := q.ProductGetByID(ctx, id)
		if err != nil {
			return fmt.Errorf("get product %d: %w", id, err)
		}
		row, err := q.ProductUpdate(ctx, db.ProductUpdateParams{
			ID: id, Name: in.Name, Description: in.Description, PriceMinor: in.PriceMinor,
			Currency: in.Currency, Active: in.Active, ImageUrl: in.ImageURL,
		})
		if err != nil {
			return fmt.Errorf("update product: %w", err)
		}
		p = productFromRow(row)
		return audit(ctx, q, actor, "product.updated", p, productChanges(productFromRow(before), p))
	})
	if err == nil {
		s.invalidate(ctx, catalogueKey, productKey(p.SKU))
	}
	return p, err
}

// productChanges lists each field that changed, as {"from", "to"}.
func productChanges(before, after Product) map[string]any {
	changes := map[string]any{}
	note := func(field string, from, to any) {
		if from != to {
			changes[field] = map[string]any{"from": from, "to": to}
		}
	}
	note("name", before.Name, after.Name)
	note("description", before.Description, after.Description)
	note("price_minor", before.PriceMinor, after.PriceMinor)
	note("currency", before.Currency, after.Currency)
	note("active", before.Active, after.Active)
	note("image_url", before.ImageURL, after.ImageURL)
	return changes
}

// ProductGetByID returns a product, or ErrNotFound.
func (s *Store) ProductGetByID(ctx context.Context, id int64) (Product, error) {
	row, err := s.q.ProductGetByID(ctx, id)
	if err != nil {
		return Product{}, classify(fmt.Errorf("get product %d: %w", id, err))
	}
	return productFromRow(row), nil
}

// ProductGetBySKU returns an active product for the public site, through
// the cache, or ErrNotFound.
func (s *Store) ProductGetBySKU(ctx context.Context, sku string) (Product, error) {
	load := func(ctx context.Context) (Product, error) {
		row, err := s.q.ProductGetBySKU(ctx, sku)
		if err != nil {
			return Product{}, classify(fmt.Errorf("get product %s: %w", sku, err))
		}
		if !row.Active {
			return Product{}, fmt.Errorf("product %s is withdrawn: %w", sku, ErrNotFound)
		}
		return productFromRow(row), nil
	}
	if s.cache == nil {
		return load(ctx)
	}
	return cache.Get(ctx, s.cache, productKey(sku), 5*time.Minute, load)
}

// ProductListActive returns the catalogue, through the cache.
func (s *Store) ProductListActive(ctx context.Context) ([]Product, error) {
	load := func(ctx context.Context) ([]Product, error) {
		rows, err := s.q.ProductListActive(ctx)
		if err != nil {
			return nil, classify(fmt.Errorf("list products: %w", err))
		}
		return productsFromRows(rows), nil
	}
	if s.cache == nil {
		return load(ctx)
	}
	return cache.Get(ctx, s.cache, catalogueKey, 5*time.Minute, load)
}

// ProductListAll returns every product, withdrawn ones included.
func (s *Store) ProductListAll(ctx context.Context) ([]Product, error) {
	rows, err := s.q.ProductListAll(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("list products: %w", err))
	}
	return productsFromRows(rows), nil
}

func (p Product) auditTarget() (string, string) { return "product", strconv.FormatInt(p.ID, 10) }

func productFromRow(r db.Product) Product {
	return Product{
		ID: r.ID, SKU: r.Sku, Name: r.Name, Description: r.Description, PriceMinor: r.PriceMinor,
		Currency: r.Currency, Active: r.Active, ImageURL: r.ImageUrl, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

func productsFromRows(rows []db.Product) []Product {
	return mapRows(rows, productFromRow)
}

// demoProducts are the catalogue `keel seed` loads.
var demoProducts = []ProductInput{
	{SKU: "SITE-AUDIT", Name: "Website audit", Description: "A review of your site's speed, security and accessibility, with a written report.", PriceMinor: 49000, Currency: "EUR"},
	{SKU: "CARE-MONTH", Name: "Care plan, one month", Description: "Updates, backups and monitoring for one month.", PriceMinor: 15000, Currency: "EUR"},
	{SKU: "DEV-DAY", Name: "Development day", Description: "A day of a senior developer's time on your project.", PriceMinor: 80000, Currency: "EUR"},
	{SKU: "TRAINING", Name: "Team training session", Description: "Half a day of hands-on training for your staff.", PriceMinor: 45000, Currency: "EUR"},
}

func (s *Store) seedProducts(ctx context.Context) error {
	for _, p := range demoProducts {
		err := s.q.ProductSeed(ctx, db.ProductSeedParams{
			Sku: p.SKU, Name: p.Name, Description: p.Description, PriceMinor: p.PriceMinor, Currency: p.Currency,
		})
		if err != nil {
			return classify(fmt.Errorf("seed product %s: %w", p.SKU, err))
		}
	}
	s.invalidate(ctx, catalogueKey)
	return nil
}
