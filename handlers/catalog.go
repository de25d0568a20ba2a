package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/money"
	"keel/store"
	"keel/views"
)

func (h *Handlers) productCard(p store.Product) views.ProductCard {
	return views.ProductCard{
		ID: p.ID, SKU: p.SKU, Name: p.Name, Description: p.Description,
		Price: money.Format(p.PriceMinor, p.Currency), PriceMinor: p.PriceMinor, Currency: p.Currency,
		ImageURL: p.ImageURL, URL: h.url("catalogue.show", p.SKU),
	}
}

// catalogueIndex lists the products on sale, from the cache.
func (h *Handlers) catalogueIndex(c echo.Context) error {
	products, err := h.Store.ProductListActive(c.Request().Context())
	if err != nil {
		return err
	}
	v := views.CatalogueView{OrderURL: h.url("order.new")}
	for _, p := range products {
		v.Products = append(v.Products, h.productCard(p))
	}
	page := h.page(c, "Catalogue", "What Keel offers, with prices.", "catalogue.index")
	return render(c, http.StatusOK, views.CataloguePage(page, v))
}

func (h *Handlers) catalogueShow(c echo.Context) error {
	p, err := h.Store.ProductGetBySKU(c.Request().Context(), c.Param("sku"))
	if err != nil {
		return err
	}
	page := h.page(c, p.Name, p.Description, "catalogue.index")
	return render(c, http.StatusOK, views.ProductPage(page, h.productCard(p), h.url("order.new")))
}

func (h *Handlers) productIndex(c echo.Context) error {
	products, err := h.Store.ProductListAll(c.Request().Context())
	if err != nil {
		return err
	}
	v := views.ProductsView{NewURL: h.url("product.new")}
	for _, p := range products {
		v.Rows = append(v.Rows, views.ProductRow{
			SKU: p.SKU, Name: p.Name, Price: money.Format(p.PriceMinor, p.Currency), Active: p.Active,
			URL: h.url("product.show", p.ID),
		})
	}
	return render(c, http.StatusOK, views.ProductsPage(h.adminPage(c, "Catalogue", "product.index"), v))
}

func (h *Handlers) productNew(c echo.Context) error {
	f := views.ProductForm{Action: h.url("product.create"), IsNew: true, Currency: "EUR", Active: true}
	return render(c, http.StatusOK, views.ProductFormPage(h.adminPage(c, "New product", "product.index"), f))
}

func (h *Handlers) productShow(c echo.Context) error {
	p, err := h.productParam(c)
	if err != nil {
		return err
	}
	viewer, _ := auth.CurrentUser(c)
	f := views.ProductForm{
		Action: h.url("product.update", p.ID), SKU: p.SKU, Name: p.Name, Description: p.Description,
		Price: strings.TrimPrefix(money.Format(p.PriceMinor, "X"), "X "), Currency: p.Currency,
		Active: p.Active, ImageURL: p.ImageURL,
		ReadOnly: !auth.Role(viewer.Role).Can("catalog:write"),
	}
	return render(c, http.StatusOK, views.ProductFormPage(h.adminPage(c, p.Name, "product.index"), f))
}

func (h *Handlers) productCreate(c echo.Context) error {
	in, f := productInput(c)
	f.Action, f.IsNew = h.url("product.create"), true
	if len(f.Errors) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.ProductFormPage(h.adminPage(c, "New product", "product.index"), f))
	}
	p, err := h.Store.ProductCreate(c.Request().Context(), actor(c), in)
	if errors.Is(err, store.ErrConflict) {
		f.Errors["sku"] = "Another product has this SKU."
		return render(c, http.StatusUnprocessableEntity, views.ProductFormPage(h.adminPage(c, "New product", "product.index"), f))
	}
	if err != nil {
		return err
	}
	h.Sessions.Flash(c, p.Name+" is in the catalogue.")
	return c.Redirect(http.StatusSeeOther, h.url("product.show", p.ID))
}

func (h *Handlers) productUpdate(c echo.Context) error {
	p, err := h.productParam(c)
	if err != nil {
		return err
	}
	in, f := productInput(c)
	delete(f.Errors, "sku") // the SKU never changes
	f.Action, f.SKU = h.url("product.update", p.ID), p.SKU
	if len(f.Errors) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.ProductFormPage(h.adminPage(c, p.Name, "product.index"), f))
	}
	if _, err := h.Store.ProductUpdate(c.Request().Context(), actor(c), p.ID, in); err != nil {
		return err
	}
	h.Sessions.Flash(c, "Saved.")
	return c.Redirect(http.StatusSeeOther, h.url("product.show", p.ID))
}

var (
	skuPattern      = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// productInput reads and checks the product form.
func productInput(c echo.Context) (store.ProductInput, views.ProductForm) {
	f := views.ProductForm{
		SKU:         strings.ToUpper(strings.TrimSpace(postValue(c, "sku"))),
		Name:        strings.TrimSpace(postValue(c, "name")),
		Description: strings.TrimSpace(postValue(c, "description")),
		Price:       strings.TrimSpace(postValue(c, "price")),
		Currency:    strings.ToUpper(strings.TrimSpace(postValue(c, "currency"))),
		ImageURL:    strings.TrimSpace(postValue(c, "image_url")),
		Active:      postValue(c, "active") == "on",
		Errors:      map[string]string{},
	}
	if !skuPattern.MatchString(f.SKU) {
		f.Errors["sku"] = "Use 2 to 32 capitals, digits and hyphens."
	}
	if n := utf8.RuneCountInString(f.Name); n == 0 || n > 200 || badText(f.Name, false) {
		f.Errors["name"] = "Please give a name of at most 200 characters."
	}
	if utf8.RuneCountInString(f.Description) > 5000 || badText(f.Description, true) {
		f.Errors["description"] = "Please keep the description to 5,000 characters of plain text."
	}
	price, ok := money.Parse(f.Price)
	if !ok || price < 1 || price > 100_000_000 {
		f.Errors["price"] = "Please give a price such as 490 or 490.00, up to 1,000,000."
	}
	if !currencyPattern.MatchString(f.Currency) {
		f.Errors["currency"] = "Please give a three-letter currency code such as EUR."
	}
	if f.ImageURL != "" {
		if u, err := url.Parse(f.ImageURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			f.Errors["image_url"] = "Please give an http or https address."
		}
	}
	return store.ProductInput{
		SKU: f.SKU, Name: f.Name, Description: f.Description, PriceMinor: price,
		Currency: f.Currency, Active: f.Active, ImageURL: f.ImageURL,
	}, f
}

func (h *Handlers) productParam(c echo.Context) (store.Product, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return store.Product{}, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such product."}
	}
	return h.Store.ProductGetByID(c.Request().Context(), id)
}
