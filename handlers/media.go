package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"keel/auth"
	"keel/blob"
	"keel/store"
	"keel/views"
)

// mediaTypes are the files editors may upload: the extension their
// stored name gets, and the bytes each kind of file starts with. An
// upload is ready only if the stored object starts like what it was
// declared to be.
var mediaTypes = map[string]struct {
	ext   string
	magic func([]byte) bool
}{
	"image/jpeg": {".jpg", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }},
	"image/png":  {".png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }},
	"image/gif": {".gif", func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}},
	"image/webp": {".webp", func(b []byte) bool {
		return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
	}},
	"application/pdf": {".pdf", func(b []byte) bool { return bytes.HasPrefix(b, []byte("%PDF-")) }},
}

// uploadLinkLifetime is how long a signed upload works.
const uploadLinkLifetime = 5 * time.Minute

// mediaIndex is the media library: thumbnails, where each file is used,
// and the upload area.
func (h *Handlers) mediaIndex(c echo.Context) error {
	list, err := h.Store.MediaList(c.Request().Context(), 200)
	if err != nil {
		return err
	}
	v := views.MediaView{UploadURL: h.url("media.upload"), MaxBytes: h.MediaMaxBytes, Types: mediaTypeList()}
	for _, m := range list {
		item := views.MediaItem{
			ID: m.ID, Filename: m.Filename, ContentType: m.ContentType, Size: humanSize(m.SizeBytes),
			URL: h.Markdown.MediaURL(m.Key), IsImage: strings.HasPrefix(m.ContentType, "image/"),
			DeleteURL: h.url("media.delete", m.ID),
		}
		for _, u := range m.UsedBy {
			item.UsedBy = append(item.UsedBy, views.MediaUse{Title: u.Title, URL: h.url("post.edit", u.PostID)})
		}
		v.Items = append(v.Items, item)
	}
	return render(c, http.StatusOK, views.MediaPage(h.adminPage(c, "Media", "media.index"), v))
}

func mediaTypeList() []string {
	return []string{"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"}
}

type uploadRequest struct {
	Filename    string `json:"filename" form:"filename"`
	ContentType string `json:"content_type" form:"content_type"`
	Size        int64  `json:"size" form:"size"`
}

type uploadResponse struct {
	ID         int64             `json:"id"`
	URL        string            `json:"url"`
	Method     string            `json:"method"`
	Headers    map[string]string `json:"headers"`
	ConfirmURL string            `json:"confirm_url"`
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// mediaUploadCreate answers a browser's request to upload a file (its
// name, type and size) with a signed PUT straight to object storage, for
// a key the server chooses, that accepts exactly that type and size for
// five minutes. The file's bytes never pass through Keel.
func (h *Handlers) mediaUploadCreate(c echo.Context) error {
	var req uploadRequest
	if err := c.Bind(&req); err != nil {
		return &Error{Status: http.StatusBadRequest, Code: "bad_request", Message: "The upload request could not be read."}
	}
	name := strings.TrimSpace(path.Base(strings.ReplaceAll(req.Filename, "\\", "/")))
	switch {
	case name == "" || name == "." || name == "/" || utf8.RuneCountInString(name) > 200 || badText(name, false):
		return uploadRefused("bad_name", "Please give the file a name of at most 200 characters.")
	case mediaTypes[req.ContentType].magic == nil:
		return uploadRefused("bad_type", "This kind of file cannot be uploaded. Allowed: JPEG, PNG, GIF and WebP images, and PDF.")
	case req.Size <= 0:
		return uploadRefused("empty", "The file is empty.")
	case req.Size > h.MediaMaxBytes:
		return uploadRefused("too_large", "The file is too large: at most "+humanSize(h.MediaMaxBytes)+".")
	}

	// The stored name ends as its type says, whatever the file was
	// called.
	safe := strings.Trim(unsafeName.ReplaceAllString(strings.TrimSuffix(name, path.Ext(name)), "-"), "-.")
	if safe == "" {
		safe = "file"
	}
	key := fmt.Sprintf("media/%s/%s%s", strings.ToLower(auth.RandomToken()[:16]), safe, mediaTypes[req.ContentType].ext)
	ctx := c.Request().Context()
	m, err := h.Store.MediaCreate(ctx, actor(c), store.NewMedia{
		Key: key, Filename: name, ContentType: req.ContentType, SizeBytes: req.Size,
	})
	if err != nil {
		return err
	}
	up, err := h.Blob.UploadURL(ctx, m.UploadKey(), req.ContentType, req.Size, uploadLinkLifetime)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, uploadResponse{
		ID: m.ID, URL: up.URL, Method: up.Method, Headers: up.Headers, ConfirmURL: h.url("media.confirm", m.ID),
	})
}

func uploadRefused(code, msg string) error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: code, Message: msg}
}

// errUploadCheck carries why a stored upload was refused.
type errUploadCheck struct{ msg string }

func (e errUploadCheck) Error() string { return e.msg }

// mediaConfirm checks what the browser stored, after its upload: the
// object exists, has the declared size and type, and starts with the
// bytes of that type. That very object (by its ETag) is then copied,
// inside the storage service, to the key the file is served from, and
// the file is ready; otherwise the upload and the record are deleted and
// the answer says why.
func (h *Handlers) mediaConfirm(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such upload."}
	}
	ctx := c.Request().Context()
	m, err := h.Store.MediaConfirm(ctx, actor(c), id, func(m store.Media) error {
		obj, err := h.Blob.Head(ctx, m.UploadKey())
		switch {
		case errors.Is(err, blob.ErrNoObject):
			return errUploadCheck{"The file did not arrive in storage; please upload it again."}
		case err != nil:
			return err
		case obj.Size != m.SizeBytes || obj.ContentType != m.ContentType:
			return errUploadCheck{"The stored file is not the one announced; please upload it again."}
		}
		start, err := h.Blob.ReadStart(ctx, m.UploadKey(), obj.ETag, 16)
		if err == nil && !mediaTypes[m.ContentType].magic(start) {
			return errUploadCheck{"The file's content does not match its type, " + m.ContentType + "."}
		}
		if err == nil {
			err = h.Blob.Promote(ctx, m.UploadKey(), obj.ETag, m.Key, m.ContentType)
		}
		if errors.Is(err, blob.ErrChanged) || errors.Is(err, blob.ErrNoObject) {
			return errUploadCheck{"The file changed while it was checked; please upload it again."}
		}
		return err
	})
	var refused errUploadCheck
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such upload.", Err: err}
	case errors.As(err, &refused):
		h.deleteObjects(ctx, m.UploadKey(), m.Key) // nothing is kept of a refused upload
		return uploadRefused("bad_upload", refused.msg)
	case err != nil:
		return err
	}
	h.deleteObjects(ctx, m.UploadKey())
	return c.JSON(http.StatusOK, map[string]any{"id": m.ID, "url": h.Markdown.MediaURL(m.Key), "status": m.Status})
}

// deleteObjects deletes stored objects, logging what it cannot: the
// upload pruner deletes what is left behind.
func (h *Handlers) deleteObjects(ctx context.Context, keys ...string) {
	for _, key := range keys {
		if err := h.Blob.Delete(ctx, key); err != nil {
			h.Logger.WarnContext(ctx, "delete object", "key", key, "error", err)
		}
	}
}

// mediaDelete deletes a file no post uses, and its object.
func (h *Handlers) mediaDelete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such file."}
	}
	ctx := c.Request().Context()
	m, err := h.Store.MediaDelete(ctx, actor(c), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "There is no such file.", Err: err}
	case errors.Is(err, store.ErrInUse):
		return &Error{Status: http.StatusConflict, Code: "in_use",
			Message: "This file is used by a post; take it out of the post first.", Err: err}
	case err != nil:
		return err
	}
	h.deleteObjects(ctx, m.Key, m.UploadKey())
	h.Sessions.Flash(c, "Deleted "+m.Filename+".")
	return c.Redirect(http.StatusSeeOther, h.url("media.index"))
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
