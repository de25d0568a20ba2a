package handlers

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/unicode/norm"

	"keel/auth"
	"keel/store"
	"keel/views"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// postIndex lists every post for editors, the last saved first.
func (h *Handlers) postIndex(c echo.Context) error {
	posts, err := h.Store.PostList(c.Request().Context(), 200)
	if err != nil {
		return err
	}
	v := views.PostsView{NewURL: h.url("post.new")}
	for _, p := range posts {
		row := views.PostRow{Title: p.Title, URL: h.url("post.edit", p.ID), Status: p.Status,
			Updated: p.UpdatedAt.UTC().Format("2 Jan 2006 15:04")}
		if p.PublishAt != nil {
			row.When = p.PublishAt.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		v.Rows = append(v.Rows, row)
	}
	return render(c, http.StatusOK, views.PostsPage(h.adminPage(c, "Posts", "post.index"), v))
}

// postNew is an empty editor.
func (h *Handlers) postNew(c echo.Context) error {
	f, err := h.postForm(c, store.Post{}, true)
	if err != nil {
		return err
	}
	return h.renderPostForm(c, http.StatusOK, f)
}

// postEdit is the editor of a saved post, with its status and
// revisions.
func (h *Handlers) postEdit(c echo.Context) error {
	p, err := h.postParam(c)
	if err != nil {
		return err
	}
	f, err := h.postForm(c, p, false)
	if err != nil {
		return err
	}
	return h.renderPostForm(c, http.StatusOK, f)
}

// postForm fills the editor from a post.
func (h *Handlers) postForm(c echo.Context, p store.Post, isNew bool) (views.PostForm, error) {
	ctx := c.Request().Context()
	f := views.PostForm{
		IsNew: isNew, Title: p.Title, Slug: p.Slug, Excerpt: p.Excerpt, Tags: strings.Join(p.Tags, ", "),
		Body: p.BodyMD, Preview: p.BodyHTML, PreviewURL: h.url("post.preview"), MediaURL: h.url("media.index"),
		Errors: map[string]string{}, Action: h.url("post.create"),
	}
	if p.CoverID != nil {
		f.CoverID = strconv.FormatInt(*p.CoverID, 10)
	}
	media, err := h.Store.MediaList(ctx, 200)
	if err != nil {
		return f, err
	}
	for _, m := range media {
		if strings.HasPrefix(m.ContentType, "image/") {
			f.Covers = append(f.Covers, views.MediaChoice{ID: m.ID, Label: m.Filename, URL: h.Markdown.MediaURL(m.Key)})
		}
	}
	if isNew {
		return f, nil
	}
	f.Action = h.url("post.update", p.ID)
	f.Status = p.Status
	if p.PublishAt != nil {
		verb := "goes out"
		if p.Status == store.PostPublished {
			verb = "went out"
		}
		f.PublishAt = verb + " " + p.PublishAt.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	f.PublicURL = h.url("blog.post", p.Slug)
	f.PublishURL = h.url("post.publish", p.ID)
	f.ScheduleURL = h.url("post.schedule", p.ID)
	f.UnpublishURL = h.url("post.unpublish", p.ID)
	f.DeleteURL = h.url("post.delete", p.ID)
	u, _ := auth.CurrentUser(c)
	f.CanDelete = auth.Role(u.Role).Can("blog:delete")
	revisions, err := h.Store.PostRevisions(ctx, p.ID)
	if err != nil {
		return f, err
	}
	if len(revisions) > 0 {
		f.Revision = strconv.FormatInt(revisions[0].ID, 10)
	}
	for _, r := range revisions {
		f.Revisions = append(f.Revisions, views.RevisionRow{
			ID: r.ID, Saved: r.CreatedAt.UTC().Format("2 Jan 2006 15:04:05"), By: r.SavedByName, Title: r.Title,
			RestoreURL: h.url("post.restore", p.ID, r.ID),
		})
	}
	return f, nil
}

func (h *Handlers) renderPostForm(c echo.Context, status int, f views.PostForm) error {
	title := "New post"
	if !f.IsNew {
		title = f.Title
	}
	return render(c, status, views.PostEditPage(h.adminPage(c, title, "post.index"), f))
}

// postCreate saves a new draft.
func (h *Handlers) postCreate(c echo.Context) error {
	in, errs := readPost(c)
	if len(errs) > 0 {
		return h.postRefused(c, store.Post{}, true, in, errs)
	}
	p, err := h.Store.PostCreate(c.Request().Context(), actor(c), in)
	if err != nil {
		return h.postSaveFailed(c, store.Post{}, true, in, err)
	}
	h.Sessions.Flash(c, "Draft saved.")
	return c.Redirect(http.StatusSeeOther, h.url("post.edit", p.ID))
}

// postUpdate saves a post; a published post changes on the site at once.
func (h *Handlers) postUpdate(c echo.Context) error {
	p, err := h.postParam(c)
	if err != nil {
		return err
	}
	in, errs := readPost(c)
	if len(errs) > 0 {
		return h.postRefused(c, p, false, in, errs)
	}
	if _, err := h.Store.PostUpdate(c.Request().Context(), actor(c), p.ID, in); err != nil {
		return h.postSaveFailed(c, p, false, in, err)
	}
	h.Sessions.Flash(c, "Saved.")
	return c.Redirect(http.StatusSeeOther, h.url("post.edit", p.ID))
}

func (h *Handlers) postSaveFailed(c echo.Context, p store.Post, isNew bool, in store.PostInput, err error) error {
	switch {
	case errors.Is(err, store.ErrSlugTaken):
		return h.postRefused(c, p, isNew, in, map[string]string{"slug": "Another post has, or had, this address; please choose another."})
	case errors.Is(err, store.ErrBadCover):
		return h.postRefused(c, p, isNew, in, map[string]string{"cover": "Please choose an image from the media library."})
	case errors.Is(err, store.ErrEdited):
		// Shown with the current post's time, so saving again is a
		// deliberate choice to replace the other save.
		current, err := h.Store.PostGetByID(c.Request().Context(), p.ID)
		if err != nil {
			return err
		}
		f, err := h.postForm(c, current, false)
		if err != nil {
			return err
		}
		keepTyped(c, &f, in)
		f.Conflict = true
		return h.renderPostForm(c, http.StatusConflict, f)
	}
	return err
}

// keepTyped puts what the editor sent back into the form.
func keepTyped(c echo.Context, f *views.PostForm, in store.PostInput) {
	f.Title, f.Slug, f.Excerpt, f.Body = in.Title, in.Slug, in.Excerpt, in.BodyMD
	f.Tags = c.FormValue("tags")
	f.CoverID = c.FormValue("cover")
}

// postRefused shows the editor again with what was typed and what to
// fix.
func (h *Handlers) postRefused(c echo.Context, p store.Post, isNew bool, in store.PostInput, errs map[string]string) error {
	f, err := h.postForm(c, p, isNew)
	if err != nil {
		return err
	}
	keepTyped(c, &f, in)
	if raw := c.FormValue("revision"); raw != "" {
		f.Revision = raw // still the copy the editor started from
	}
	if html, _, err := h.Markdown.Render(in.BodyMD); err == nil {
		f.Preview = html
	}
	f.Errors = errs
	return h.renderPostForm(c, http.StatusUnprocessableEntity, f)
}

// maxPostBody is the most characters a post's body may have; a full
// form of them fits in the default KEEL_BODY_LIMIT.
const maxPostBody = 100_000

// readPost reads and checks the editor's form.
func readPost(c echo.Context) (store.PostInput, map[string]string) {
	errs := map[string]string{}
	in := store.PostInput{
		Title:   strings.TrimSpace(c.FormValue("title")),
		Slug:    strings.TrimSpace(c.FormValue("slug")),
		Excerpt: strings.TrimSpace(c.FormValue("excerpt")),
		BodyMD:  strings.ReplaceAll(c.FormValue("body"), "\r\n", "\n"),
	}
	if n := utf8.RuneCountInString(in.Title); n == 0 || n > 200 || badText(in.Title, false) {
		errs["title"] = "Please give a title (at most 200 characters)."
	}
	typed := in.Slug != ""
	if !typed {
		in.Slug = slugify(in.Title)
	}
	switch {
	case !typed && in.Slug == "" && errs["title"] == "":
		errs["slug"] = "The title has no Latin letters or digits to make an address from; please type one."
	case !slugPattern.MatchString(in.Slug) || len(in.Slug) > 100:
		errs["slug"] = "Please use lowercase letters, digits and single hyphens (at most 100)."
	}
	if utf8.RuneCountInString(in.Excerpt) > 500 || badText(in.Excerpt, true) {
		errs["excerpt"] = "Please keep the summary to 500 characters of plain text."
	}
	switch {
	case utf8.RuneCountInString(in.BodyMD) > maxPostBody:
		errs["body"] = "Please keep the body under 100,000 characters."
	case !utf8.ValidString(in.BodyMD) || strings.ContainsFunc(in.BodyMD, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t'
	}):
		errs["body"] = "The body contains control characters (such as NUL); please remove them."
	}
	seen := map[string]bool{}
	for raw := range strings.SplitSeq(c.FormValue("tags"), ",") {
		tag := strings.ToLower(strings.TrimSpace(raw))
		if tag == "" || seen[tag] {
			continue
		}
		if !tagPattern.MatchString(tag) || len(tag) > 40 {
			errs["tags"] = "Tags are lowercase words joined by hyphens, such as customer-stories."
			continue
		}
		seen[tag] = true
		in.Tags = append(in.Tags, tag)
	}
	if len(in.Tags) > 10 {
		errs["tags"] = "Please use at most 10 tags."
	}
	if raw := c.FormValue("revision"); raw != "" {
		rev, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || rev <= 0 {
			errs["title"] = "The form was damaged; please reload the post."
		}
		in.Revision = rev
	}
	if raw := c.FormValue("cover"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			errs["cover"] = "Please choose an image from the media library."
		} else {
			in.CoverID = &id
		}
	}
	return in, errs
}

// slugify makes an address from a title: "Café à la carte!" becomes
// "cafe-a-la-carte".
func slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(strings.ToLower(title)) {
		switch {
		case unicode.Is(unicode.Mn, r): // accents, once decomposed
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 80 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// postPreview renders the body as the site will show it.
func (h *Handlers) postPreview(c echo.Context) error {
	body := c.FormValue("body")
	if len(body) > 100000 {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "too_long", Message: "The body is too long to preview."}
	}
	html, _, err := h.Markdown.Render(body)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.PostPreview(html))
}

// postPublish publishes a post now.
func (h *Handlers) postPublish(c echo.Context) error {
	return h.postStatusChange(c, "Published.", func(id int64) error {
		_, err := h.Store.PostPublish(c.Request().Context(), actor(c), id)
		return err
	})
}

// postSchedule has the post published at a time to come, in UTC.
func (h *Handlers) postSchedule(c echo.Context) error {
	p, err := h.postParam(c)
	if err != nil {
		return err
	}
	at, err := parseLocalTime(c.FormValue("publish_at"))
	if err == nil && (!at.After(time.Now()) || at.After(time.Now().AddDate(maxScheduleYears, 0, 0))) {
		err = store.ErrNotInFuture
	}
	if err == nil {
		_, err = h.Store.PostSchedule(c.Request().Context(), actor(c), p.ID, at)
	}
	switch {
	case err == nil:
		h.Sessions.Flash(c, "Scheduled for "+at.Format("2 Jan 2006 15:04 UTC")+".")
		return c.Redirect(http.StatusSeeOther, h.url("post.edit", p.ID))
	case errors.Is(err, store.ErrNotInFuture), errors.As(err, new(*time.ParseError)):
		f, ferr := h.postForm(c, p, false)
		if ferr != nil {
			return ferr
		}
		f.Errors["publish_at"] = "Please give a date and time to come, within five years, in UTC."
		return h.renderPostForm(c, http.StatusUnprocessableEntity, f)
	}
	return err
}

// postUnpublish takes a post back to draft, cancelling its schedule.
func (h *Handlers) postUnpublish(c echo.Context) error {
	return h.postStatusChange(c, "Back to draft.", func(id int64) error {
		_, err := h.Store.PostUnpublish(c.Request().Context(), actor(c), id)
		return err
	})
}

func (h *Handlers) postStatusChange(c echo.Context, done string, change func(int64) error) error {
	p, err := h.postParam(c)
	if err != nil {
		return err
	}
	switch err := change(p.ID); {
	case errors.Is(err, store.ErrNoChange):
		h.Sessions.Flash(c, "Nothing to change.")
	case err != nil:
		return err
	default:
		h.Sessions.Flash(c, done)
	}
	return c.Redirect(http.StatusSeeOther, h.url("post.edit", p.ID))
}

// postDelete deletes a post.
func (h *Handlers) postDelete(c echo.Context) error {
	p, err := h.postParam(c)
	if err != nil {
		return err
	}
	if err := h.Store.PostDelete(c.Request().Context(), actor(c), p.ID); err != nil {
		return err
	}
	h.Sessions.Flash(c, "Deleted “"+p.Title+"”.")
	return c.Redirect(http.StatusSeeOther, h.url("post.index"))
}

// postRestore saves an old revision as the current text.
func (h *Handlers) postRestore(c echo.Context) error {
	p, err := h.postParam(c)
	if err != nil {
		return err
	}
	rev, err := strconv.ParseInt(c.Param("revision"), 10, 64)
	if err != nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such revision."}
	}
	_, err = h.Store.PostRestore(c.Request().Context(), actor(c), p.ID, rev)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such revision.", Err: err}
	case err != nil:
		return err
	}
	h.Sessions.Flash(c, "Revision restored.")
	return c.Redirect(http.StatusSeeOther, h.url("post.edit", p.ID))
}

// maxScheduleYears is how far ahead a post may be scheduled.
const maxScheduleYears = 5

// parseLocalTime reads a datetime-local value ("2026-12-05T10:00", with
// seconds when the browser sends them) as UTC.
func parseLocalTime(s string) (time.Time, error) {
	at, err := time.ParseInLocation("2006-01-02T15:04", s, time.UTC)
	if err != nil {
		return time.ParseInLocation("2006-01-02T15:04:05", s, time.UTC)
	}
	return at, nil
}

func (h *Handlers) postParam(c echo.Context) (store.Post, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return store.Post{}, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such post."}
	}
	p, err := h.Store.PostGetByID(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return p, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such post.", Err: err}
	}
	return p, err
}
