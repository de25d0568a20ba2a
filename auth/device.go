package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A device is one sign-in: the browser that signed in and every session
// its refresh tokens have renewed since. Revoking a device ends all of
// them. In Redis, for a device (family) F of user U:
//
//	auth:fam:F      hash: uid, created, seen, ip, ua (the device record)
//	auth:fam:F:rt   set: hashes of F's refresh tokens, current and rotated
//	auth:fam:F:s    set: scs session tokens F has held
//	auth:rt:H       hash: fam, uid, rotated (unix ms, "" while current)
//	auth:user:U     set: U's device ids
//	auth:epoch:U    when U was last signed out everywhere (Redis time, ms)
//	auth:session:T  the scs session T (written by scs)
//
// A session is honoured only while its device record exists, so deleting
// that one key revokes the device on every server copy at once, even if
// a request in flight writes its session back afterwards. A sign-in whose
// password was checked before the user's latest revocation cannot start
// a device afterwards: Start compares the check's time with the epoch.
//
// The scripts below read and write several keys atomically. They build
// key names themselves, so they need a single Redis, not a cluster.

const sessionPrefix = "auth:session:"

// Device describes one signed-in browser for the sessions page.
type Device struct {
	ID        string
	UserID    int64
	CreatedAt time.Time
	LastSeen  time.Time
	IP        string
	UserAgent string
}

// Devices keeps devices and refresh tokens in Redis.
type Devices struct {
	rdb      *redis.Client
	lifetime time.Duration
	grace    time.Duration
}

// Outcome is what presenting a refresh token led to.
type Outcome int

// Outcomes of Rotate.
const (
	// Unknown: no such token, or its device was revoked.
	Unknown Outcome = iota
	// Rotated: the token was current and has been replaced.
	Rotated
	// Grace: the token was replaced moments ago, by another tab of the
	// same browser; the device stays signed in without a new token. At
	// most three late arrivals are allowed per token.
	Grace
	// Reused: the token was replaced long ago. Someone holds a copy, so
	// every device of the user has been revoked.
	Reused
)

// Rotation is the result of Rotate.
type Rotation struct {
	Outcome  Outcome
	UserID   int64
	DeviceID string
	// Token is the new refresh token when Outcome is Rotated.
	Token string
}

// ErrRevokedSince means the user was signed out everywhere after their
// credentials were checked: the sign-in must not go through.
var ErrRevokedSince = errors.New("user revoked since the credentials were checked")

// Now returns Redis's clock in milliseconds: the one clock every server
// copy shares, for comparing a sign-in with a revocation.
func (d *Devices) Now(ctx context.Context) (int64, error) {
	t, err := d.rdb.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("redis time: %w", err)
	}
	return t.UnixMilli(), nil
}

var startScript = redis.NewScript(`
local epoch = tonumber(redis.call('GET', KEYS[4]) or '0')
if epoch > tonumber(ARGV[2]) then return 0 end
local now = redis.call('TIME')[1]
redis.call('HSET', KEYS[1], 'uid', ARGV[1], 'created', now, 'seen', now, 'ip', ARGV[5], 'ua', ARGV[6])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[3], 'fam', ARGV[7], 'uid', ARGV[1], 'rotated', '')
for _, k in ipairs({KEYS[1], KEYS[2], KEYS[3]}) do redis.call('EXPIRE', k, ARGV[4]) end
redis.call('SADD', KEYS[5], ARGV[7])
return 1
`)

// Start records a new device for a user whose credentials were checked
// at checkedAt (from Now) and returns it with its first refresh token.
// It returns ErrRevokedSince when the user was revoked after checkedAt.
func (d *Devices) Start(ctx context.Context, userID, checkedAt int64, ip, ua string) (string, string, error) {
	dev := rand.Text()
	token := RandomToken()
	h := hashHex(token)
	fam := "auth:fam:" + dev

	ok, err := startScript.Run(ctx, d.rdb,
		[]string{fam, fam + ":rt", "auth:rt:" + h, epochKey(userID), userKey(userID)},
		userID, checkedAt, h, int64(d.lifetime.Seconds()), ip, ua, dev,
	).Int()
	if err != nil {
		return "", "", fmt.Errorf("start device: %w", err)
	}
	if ok == 0 {
		return "", "", ErrRevokedSince
	}
	return dev, token, nil
}

var rotateScript = redis.NewScript(`
local fam = redis.call('HGET', KEYS[1], 'fam')
if not fam then return {'unknown'} end
local famKey = 'auth:fam:' .. fam
if redis.call('EXISTS', famKey) == 0 then return {'unknown'} end
local uid = redis.call('HGET', KEYS[1], 'uid')
local rotated = redis.call('HGET', KEYS[1], 'rotated')
if rotated and rotated ~= '' then
	-- A few tabs of one browser may arrive late; more, or later, means a
	-- copy of the token is in other hands.
	local late = redis.call('HINCRBY', KEYS[1], 'late', 1)
	if tonumber(ARGV[1]) - tonumber(rotated) <= tonumber(ARGV[2]) and late <= 3 then
		return {'grace', fam, uid}
	end
	return {'reused', fam, uid}
end
redis.call('HSET', KEYS[1], 'rotated', ARGV[1])
local newKey = 'auth:rt:' .. ARGV[3]
redis.call('HSET', newKey, 'fam', fam, 'uid', uid, 'rotated', '')
redis.call('SADD', famKey .. ':rt', ARGV[3])
for _, k in ipairs({newKey, famKey, famKey .. ':rt', famKey .. ':s'}) do
	redis.call('EXPIRE', k, ARGV[4])
end
return {'rotated', fam, uid}
`)

// Rotate exchanges a refresh token for a new one. It is atomic: of two
// requests presenting the same current token, one rotates it and the
// other lands in the grace window.
func (d *Devices) Rotate(ctx context.Context, token string) (Rotation, error) {
	next := RandomToken()
	res, err := rotateScript.Run(ctx, d.rdb, []string{"auth:rt:" + hashHex(token)},
		time.Now().UnixMilli(), d.grace.Milliseconds(), hashHex(next), int64(d.lifetime.Seconds()),
	).StringSlice()
	if err != nil {
		return Rotation{}, fmt.Errorf("rotate refresh token: %w", err)
	}

	r := Rotation{}
	if len(res) == 3 {
		r.DeviceID = res[1]
		r.UserID, _ = strconv.ParseInt(res[2], 10, 64)
	}
	switch res[0] {
	case "rotated":
		r.Outcome, r.Token = Rotated, next
	case "grace":
		r.Outcome = Grace
	case "reused":
		r.Outcome = Reused
		if err := d.RevokeUser(ctx, r.UserID); err != nil {
			return r, err
		}
	}
	return r, nil
}

var seenScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'seen', ARGV[1], 'ip', ARGV[2], 'ua', ARGV[3])
return 1
`)

// Seen reports whether a device is still signed in, and if so records
// this moment, address and browser as its last use.
func (d *Devices) Seen(ctx context.Context, dev, ip, ua string) (bool, error) {
	if dev == "" {
		return false, nil
	}
	n, err := seenScript.Run(ctx, d.rdb, []string{"auth:fam:" + dev}, time.Now().Unix(), ip, ua).Int()
	if err != nil {
		return false, fmt.Errorf("check device: %w", err)
	}
	return n == 1, nil
}

// AddSession ties an scs session to a device, so revoking the device
// deletes it.
func (d *Devices) AddSession(ctx context.Context, dev, session string) error {
	key := "auth:fam:" + dev + ":s"
	_, err := d.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, key, session)
		p.Expire(ctx, key, d.lifetime)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record session: %w", err)
	}
	return nil
}

// List returns a user's signed-in devices, most recently used first.
func (d *Devices) List(ctx context.Context, userID int64) ([]Device, error) {
	ids, err := d.rdb.SMembers(ctx, userKey(userID)).Result()
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = d.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, "auth:fam:"+id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}

	var out []Device
	for i, cmd := range cmds {
		m := cmd.Val()
		if len(m) == 0 {
			// Expired: drop it from the user's set.
			d.rdb.SRem(ctx, userKey(userID), ids[i])
			continue
		}
		out = append(out, Device{
			ID:        ids[i],
			UserID:    userID,
			CreatedAt: unixField(m["created"]),
			LastSeen:  unixField(m["seen"]),
			IP:        m["ip"],
			UserAgent: m["ua"],
		})
	}
	slices.SortFunc(out, func(a, b Device) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

// revokeLua deletes the devices listed in the table devs, with their
// refresh tokens and sessions, and returns how many existed.
const revokeLua = `
local function revoke(devs)
	local revoked = 0
	for _, dev in ipairs(devs) do
		local fam = 'auth:fam:' .. dev
		local uid = redis.call('HGET', fam, 'uid')
		for _, h in ipairs(redis.call('SMEMBERS', fam .. ':rt')) do
			redis.call('DEL', 'auth:rt:' .. h)
		end
		for _, s in ipairs(redis.call('SMEMBERS', fam .. ':s')) do
			redis.call('DEL', '` + sessionPrefix + `' .. s)
		end
		revoked = revoked + redis.call('DEL', fam)
		redis.call('DEL', fam .. ':rt', fam .. ':s')
		if uid then redis.call('SREM', 'auth:user:' .. uid, dev) end
	end
	return revoked
end
`

var (
	revokeDeviceScript = redis.NewScript(revokeLua + `return revoke(ARGV)`)
	// The user's set is read inside the script, so a device started
	// while it runs cannot slip through.
	revokeUserScript = redis.NewScript(revokeLua + `
local t = redis.call('TIME')
redis.call('SET', KEYS[2], t[1] * 1000 + math.floor(t[2] / 1000))
return revoke(redis.call('SMEMBERS', KEYS[1]))`)
)

// Revoke signs a device out: its record, refresh tokens and sessions
// are deleted in one step.
func (d *Devices) Revoke(ctx context.Context, dev string) error {
	if dev == "" {
		return nil
	}
	if err := revokeDeviceScript.Run(ctx, d.rdb, nil, dev).Err(); err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	return nil
}

// RevokeUser signs a user out of every device.
func (d *Devices) RevokeUser(ctx context.Context, userID int64) error {
	keys := []string{userKey(userID), epochKey(userID)}
	if err := revokeUserScript.Run(ctx, d.rdb, keys).Err(); err != nil {
		return fmt.Errorf("revoke devices of user %d: %w", userID, err)
	}
	return nil
}

func userKey(id int64) string { return "auth:user:" + strconv.FormatInt(id, 10) }

func epochKey(id int64) string { return "auth:epoch:" + strconv.FormatInt(id, 10) }

func unixField(s string) time.Time {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Unix(n, 0)
}
