package handlers

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/feeds"
	"github.com/labstack/echo/v4"

	"keel/store"
	"keel/views"
)

const postsPerPage = 10

var tagPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// blogIndex lists the published posts, newest first, a page at a time.
func (h *Handlers) blogIndex(c echo.Context) error {
	return h.blogList(c, "", "Blog", h.url("blog.index"))
}

// blogTag lists the published posts with a tag.
func (h *Handlers) blogTag(c echo.Context) error {
	tag := c.Param("tag")
	if !tagPattern.MatchString(tag) || len(tag) > 40 {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such tag."}
	}
	return h.blogList(c, tag, "Posts tagged "+tag, h.url("blog.tag", tag))
}

func (h *Handlers) blogList(c echo.Context, tag, heading, base string) error {
	ctx := c.Request().Context()
	page := 1
	if raw := c.QueryParam("page"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 10000 {
			return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such page."}
		}
		page = n
	}
	if fresh := h.blogFresh(c, fmt.Sprintf("list-%s-%d", tag, page), time.Time{}); fresh {
		return c.NoContent(http.StatusNotModified)
	}
	pp, err := h.Store.PostsPublished(ctx, tag, page, postsPerPage)
	if err != nil {
		return err
	}
	pages := int((pp.Total + postsPerPage - 1) / postsPerPage)
	if (page > 1 || tag != "") && page > pages {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such page."}
	}
	v := views.BlogListView{Heading: heading, Page: page, Pages: pages, FeedURL: h.url("blog.feed")}
	for _, p := range pp.Posts {
		v.Posts = append(v.Posts, h.postSummary(p))
	}
	if page > 1 {
		v.PrevURL = base + "?page=" + strconv.Itoa(page-1)
	}
	if page < pages {
		v.NextURL = base + "?page=" + strconv.Itoa(page+1)
	}
	pg := h.page(c, heading, "News and notes from Keel Services.", "blog.index")
	pg.Feed = v.FeedURL
	pg.Share = &views.Share{Type: "website", URL: h.absolute(base)}
	return h.renderShared(c, views.BlogList(pg, v))
}

// blogPost shows a published post. An old slug redirects to the current
// one; drafts and scheduled posts do not exist for the public.
func (h *Handlers) blogPost(c echo.Context) error {
	ctx := c.Request().Context()
	slug := c.Param("slug")
	if !slugPattern.MatchString(slug) || len(slug) > 100 {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such post."}
	}
	pub, err := h.Store.PostPublic(ctx, slug)
	if err != nil {
		return err
	}
	p := pub.Post
	if pub.Moved {
		return c.Redirect(http.StatusMovedPermanently, h.url("blog.post", p.Slug))
	}
	if h.blogFresh(c, "post-"+strconv.FormatInt(p.ID, 10), p.UpdatedAt) {
		return c.NoContent(http.StatusNotModified)
	}
	v := views.BlogPostView{PostSummary: h.postSummary(p), Body: p.BodyHTML, BlogURL: h.url("blog.index")}
	pg := h.page(c, p.Title, p.Excerpt, "blog.index")
	pg.Feed = h.url("blog.feed")
	pg.Share = &views.Share{Type: "article", URL: h.absolute(v.URL), Image: v.CoverURL}
	return h.renderShared(c, views.BlogPost(pg, v))
}

// blogFresh sets the validators of a public blog page and reports
// whether the browser's copy is current. The ETag follows the blog's
// version, which every write that changes public pages moves on; a page
// that knows its last change also sends Last-Modified. Without a
// version (Redis away) there is no validator.
func (h *Handlers) blogFresh(c echo.Context, what string, modified time.Time) bool {
	version, ok := h.Store.BlogVersion(c.Request().Context())
	if !ok {
		return false
	}
	hd := c.Response().Header()
	etag := fmt.Sprintf(`W/"%s-%d"`, what, version)
	hd.Set("ETag", etag)
	// Public: nothing in these pages is the visitor's own (sharedGET).
	hd.Set("Cache-Control", "public, no-cache")
	if !modified.IsZero() {
		hd.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	}
	return fresh(c.Request(), etag, modified)
}

func (h *Handlers) postSummary(p store.Post) views.PostSummary {
	s := views.PostSummary{
		Title: p.Title, URL: h.url("blog.post", p.Slug), Excerpt: p.Excerpt, Author: p.AuthorName,
	}
	if p.PublishAt != nil {
		s.Date = p.PublishAt.UTC().Format("2 January 2006")
	}
	if p.CoverKey != "" {
		s.CoverURL = h.Markdown.MediaURL(p.CoverKey)
	}
	for _, t := range p.Tags {
		s.Tags = append(s.Tags, views.TagLink{Name: t, URL: h.url("blog.tag", t)})
	}
	return s
}

// blogFeed is the RSS feed of the newest posts.
func (h *Handlers) blogFeed(c echo.Context) error {
	if h.blogFresh(c, "feed", time.Time{}) {
		return c.NoContent(http.StatusNotModified)
	}
	pp, err := h.Store.PostsPublished(c.Request().Context(), "", 1, 20)
	if err != nil {
		return err
	}
	feed := &feeds.Feed{
		Title:       "Keel blog",
		Link:        &feeds.Link{Href: h.absolute(h.url("blog.index"))},
		Description: "News and notes from Keel Services.",
	}
	for _, p := range pp.Posts {
		item := &feeds.Item{
			Id:          h.absolute(h.url("blog.post", p.Slug)),
			Title:       p.Title,
			Link:        &feeds.Link{Href: h.absolute(h.url("blog.post", p.Slug))},
			Description: p.Excerpt,
			Author:      &feeds.Author{Name: p.AuthorName},
			Updated:     p.UpdatedAt,
		}
		if p.PublishAt != nil {
			item.Created = *p.PublishAt
		}
		feed.Items = append(feed.Items, item)
	}
	if len(pp.Posts) > 0 && pp.Posts[0].PublishAt != nil {
		feed.Updated = *pp.Posts[0].PublishAt
	}
	rss, err := feed.ToRss()
	if err != nil {
		return fmt.Errorf("rss: %w", err)
	}
	return h.blobShared(c, "application/rss+xml; charset=utf-8", []byte(rss))
}

type sitemapURL struct {
	Loc     string `xml:"loc"`
	LastMod string `xml:"lastmod,omitempty"`
}

type sitemapSet struct {
	XMLName xml.Name     `xml:"urlset"`
	NS      string       `xml:"xmlns,attr"`
	URLs    []sitemapURL `xml:"url"`
}

// sitemap lists the public pages for search engines.
func (h *Handlers) sitemap(c echo.Context) error {
	if h.blogFresh(c, "sitemap", time.Time{}) {
		return c.NoContent(http.StatusNotModified)
	}
	entries, err := h.Store.PostSitemap(c.Request().Context())
	if err != nil {
		return err
	}
	set := sitemapSet{NS: "http://www.sitemaps.org/schemas/sitemap/0.9"}
	for _, route := range []string{"home", "catalogue.index", "contact.new", "blog.index"} {
		set.URLs = append(set.URLs, sitemapURL{Loc: h.absolute(h.url(route))})
	}
	for _, e := range entries {
		set.URLs = append(set.URLs, sitemapURL{
			Loc: h.absolute(h.url("blog.post", e.Slug)), LastMod: e.UpdatedAt.UTC().Format("2006-01-02"),
		})
	}
	out, err := xml.Marshal(set)
	if err != nil {
		return fmt.Errorf("sitemap: %w", err)
	}
	return h.blobShared(c, "application/xml; charset=utf-8", append([]byte(xml.Header), out...))
}

// mediaFile sends a browser to a media file in object storage, through
// a link signed for five minutes. It is the media library's public
// address when no CDN is configured (KEEL_MEDIA_BASE_URL); only media
// keys are served, never invoices.
func (h *Handlers) mediaFile(c echo.Context) error {
	key := strings.TrimPrefix(c.Request().URL.Path, "/files/")
	if !strings.HasPrefix(key, "media/") || strings.Contains(key, "..") || badText(key, false) {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such file."}
	}
	link, err := h.Blob.ViewURL(c.Request().Context(), key, 5*time.Minute)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "private, max-age=240")
	return c.Redirect(http.StatusFound, link)
}
