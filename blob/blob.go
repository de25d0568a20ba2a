// Package blob stores Keel's files (invoices, media) in an S3-compatible
// object store: AWS S3 in production, any compatible server locally.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Config says where the bucket is.
type Config struct {
	Endpoint  string // empty: AWS
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
}

// Store is one bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
}

// New returns a Store for cfg. Every call is bounded by a 30 s client
// timeout besides the caller's context.
func New(cfg Config) *Store {
	opts := s3.Options{
		Region:      cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		HTTPClient:  &http.Client{Timeout: 30 * time.Second},
	}
	if cfg.Endpoint != "" {
		// Local S3-compatible servers address buckets by path, not by
		// host name.
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
		opts.UsePathStyle = true
	}
	client := s3.New(opts)
	return &Store{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket}
}

// EnsureBucket creates the bucket when it is missing and sets its CORS
// rule: browsers on origin (the site) may PUT uploads and GET files;
// no other origin may.
func (s *Store) EnsureBucket(ctx context.Context, origin string) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err != nil {
		var notFound *types.NotFound
		if !errors.As(err, &notFound) {
			return fmt.Errorf("check bucket %s: %w", s.bucket, err)
		}
		_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
		var owned *types.BucketAlreadyOwnedByYou
		if err != nil && !errors.As(err, &owned) { // another process made it meanwhile
			return fmt.Errorf("create bucket %s: %w", s.bucket, err)
		}
	}

	_, err = s.client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: &s.bucket,
		CORSConfiguration: &types.CORSConfiguration{
			CORSRules: []types.CORSRule{{
				AllowedOrigins: []string{origin},
				AllowedMethods: []string{http.MethodPut, http.MethodGet, http.MethodHead},
				AllowedHeaders: []string{"Content-Type", "Content-Length"},
				ExposeHeaders:  []string{"ETag"},
				MaxAgeSeconds:  aws.Int32(3600),
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("set CORS on bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put stores body under key, replacing what was there: storing the same
// key twice leaves one object.
func (s *Store) Put(ctx context.Context, key, contentType string, body []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   &contentType,
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Object describes a stored object. ETag changes whenever the object
// is stored again.
type Object struct {
	Size        int64
	ContentType string
	ETag        string
}

// ErrNoObject means nothing is stored under the key.
var ErrNoObject = errors.New("no such object")

// Head describes the object at key, or returns ErrNoObject.
func (s *Store) Head(ctx context.Context, key string) (Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		var notFound *types.NotFound
		if errors.As(err, &notFound) {
			return Object{}, ErrNoObject
		}
		return Object{}, fmt.Errorf("head %s: %w", key, err)
	}
	return Object{
		Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType), ETag: aws.ToString(out.ETag),
	}, nil
}

// Keys lists the keys under prefix (at most 1,000).
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	keys := make([]string, len(out.Contents))
	for i, o := range out.Contents {
		keys[i] = aws.ToString(o.Key)
	}
	return keys, nil
}

// DownloadURL returns a signed URL that fetches key for the next ttl,
// saved under filename.
func (s *Store) DownloadURL(ctx context.Context, key, filename string, ttl time.Duration) (string, error) {
	disposition := `attachment; filename="` + filename + `"`
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket:                     &s.bucket,
		Key:                        &key,
		ResponseContentDisposition: &disposition,
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}

// ViewURL returns a signed URL that shows key in the browser for the
// next ttl.
func (s *Store) ViewURL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}

// Upload is a signed request a browser sends to store one file.
type Upload struct {
	URL     string
	Method  string
	Headers map[string]string
}

// UploadURL returns a signed PUT for key that works for the next ttl,
// and only with exactly this content type and length: both are part of
// the signature, so the browser cannot send another kind or size of
// file, nor put it under another key.
func (s *Store) UploadURL(ctx context.Context, key, contentType string, size int64, ttl time.Duration) (Upload, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		ContentType:   &contentType,
		ContentLength: &size,
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return Upload{}, fmt.Errorf("presign upload %s: %w", key, err)
	}
	headers := map[string]string{}
	for name, values := range req.SignedHeader {
		// The browser sets Host and Content-Length itself.
		if name == "Host" || name == "Content-Length" || len(values) == 0 {
			continue
		}
		headers[name] = values[0]
	}
	return Upload{URL: req.URL, Method: req.Method, Headers: headers}, nil
}

// ErrChanged means the object was stored again since it was looked at.
var ErrChanged = errors.New("object changed")

// ReadStart returns the first n bytes of the object at key (fewer if it
// is shorter), or ErrNoObject; with an etag, ErrChanged unless the
// object is still that one.
func (s *Store) ReadStart(ctx context.Context, key, etag string, n int) ([]byte, error) {
	rng := fmt.Sprintf("bytes=0-%d", n-1)
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, Range: &rng}
	if etag != "" {
		in.IfMatch = &etag
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		var noKey *types.NoSuchKey
		switch {
		case errors.As(err, &noKey):
			return nil, ErrNoObject
		case preconditionFailed(err):
			return nil, ErrChanged
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer func() { _ = out.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(out.Body, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// Promote copies the object at from, if it is still the one with etag
// (else ErrChanged), to to, inside the storage service. The copy gets
// the content type given and headers the server chooses: whatever else
// the uploader sent along (caching, disposition, encoding) stays behind.
// Keys are never reused, so the copy may be cached for good.
func (s *Store) Promote(ctx context.Context, from, etag, to, contentType string) error {
	source := s.bucket + "/" + (&url.URL{Path: from}).EscapedPath()
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:            &s.bucket,
		Key:               &to,
		CopySource:        &source,
		CopySourceIfMatch: &etag,
		MetadataDirective: types.MetadataDirectiveReplace,
		ContentType:       &contentType,
		CacheControl:      aws.String("public, max-age=31536000, immutable"),
	})
	switch {
	case preconditionFailed(err):
		return ErrChanged
	case err != nil:
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return nil
}

// DeleteOlder deletes the objects under prefix stored before before, at
// most 1,000 a call, and returns how many it deleted.
func (s *Store) DeleteOlder(ctx context.Context, prefix string, before time.Time) (int, error) {
	out, err := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", prefix, err)
	}
	n := 0
	for _, o := range out.Contents {
		if o.LastModified == nil || !o.LastModified.Before(before) {
			continue
		}
		if err := s.Delete(ctx, aws.ToString(o.Key)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func preconditionFailed(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed" {
		return true
	}
	var respErr *smithyhttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusPreconditionFailed
}

// Delete removes the object at key; a missing object is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
