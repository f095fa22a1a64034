package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/talos-gs/talos/backend/server/servertest"
	"github.com/talos-gs/talos/backend/store"
)

type invitationBody struct {
	ID, TeamID, Email, Role string
	TeamName                string `json:"team_name"`
}

// Nobody joins a team without accepting, and inviting tells the admin nothing about which
// emails have accounts.
func TestInvitations(t *testing.T) {
	t.Parallel()
	forEachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		h := servertest.New(t, st, withClock(clk))
		ownerU := h.CreateUser(t, "owner@example.org", false)
		bobU := h.CreateUser(t, "bob@example.org", false)
		owner, bob := h.Login(t, ownerU), h.Login(t, bobU)
		eveU := h.CreateUser(t, "eve@example.org", false)
		eve := h.Login(t, eveU)
		team := h.CreateTeam(t, "Cube Lab", ownerU)
		base := "/api/teams/" + team.ID

		invite := func(c *servertest.Client, email, role string) (*servertest.Response, invitationBody) {
			r := c.Do(t, http.MethodPost, base+"/invitations", map[string]string{"email": email, "role": role})
			var out invitationBody
			if r.Status == http.StatusCreated {
				r.JSON(t, &out)
			}
			return r, out
		}
		known, toBob := invite(owner, "Bob@Example.org", "member")
		unknown, toGhost := invite(owner, "ghost@example.org", "member")
		require.Equal(t, http.StatusCreated, known.Status, string(known.Body))
		assert.Equal(t, known.Status, unknown.Status, "known and unknown emails get the same answer")
		assert.Equal(t, len(known.Body)-len("bob"), len(unknown.Body)-len("ghost"), "and the same body")
		assert.Equal(t, "bob@example.org", toBob.Email)

		// Not a member until accepted; the direct way in is closed to team admins.
		assert.Equal(t, http.StatusNotFound, bob.Do(t, http.MethodGet, base, nil).Status)
		assert.Equal(t, http.StatusForbidden, owner.Do(t, http.MethodPost, base+"/members",
			map[string]string{"email": "bob@example.org", "role": "member"}).Status)

		var mine struct{ Invitations []invitationBody }
		bob.Do(t, http.MethodGet, "/api/me/invitations", nil).JSON(t, &mine)
		require.Len(t, mine.Invitations, 1)
		assert.Equal(t, "Cube Lab", mine.Invitations[0].TeamName)
		assert.Equal(t, http.StatusNotFound, eve.Do(t, http.MethodPost, "/api/me/invitations/"+toBob.ID+"/accept", nil).Status,
			"another user cannot take bob's invitation")

		r := bob.Do(t, http.MethodPost, "/api/me/invitations/"+toBob.ID+"/accept", nil)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		assert.Equal(t, http.StatusOK, bob.Do(t, http.MethodGet, base, nil).Status, "a member now")
		r = bob.Do(t, http.MethodPost, "/api/me/invitations/"+toBob.ID+"/accept", nil)
		assert.Equal(t, http.StatusConflict, r.Status)
		assert.Equal(t, "invitation_closed", r.Error(t).Code)

		// A member cannot invite; an admin cannot invite an owner; bad input names the field.
		r, _ = invite(bob, "x@example.org", "member")
		assert.Equal(t, http.StatusForbidden, r.Status)
		r, _ = invite(owner, "not-an-email", "member")
		assert.Equal(t, "email", r.Error(t).Field)
		r, _ = invite(owner, "x@example.org", "boss")
		assert.Equal(t, "role", r.Error(t).Field)

		// Declined and expired invitations close; revoked ones disappear.
		_, second := invite(owner, "eve@example.org", "viewer")
		assert.Equal(t, http.StatusNoContent, eve.Do(t, http.MethodPost, "/api/me/invitations/"+second.ID+"/decline", nil).Status)
		assert.Equal(t, http.StatusNotFound, eve.Do(t, http.MethodGet, base, nil).Status)
		_, third := invite(owner, "eve@example.org", "viewer")
		clk.Advance(8 * 24 * time.Hour)
		owner, eve = h.Login(t, ownerU), h.Login(t, eveU) // the sessions expired too
		mine.Invitations = nil
		eve.Do(t, http.MethodGet, "/api/me/invitations", nil).JSON(t, &mine)
		assert.Empty(t, mine.Invitations, "expired")
		assert.Equal(t, http.StatusConflict, eve.Do(t, http.MethodPost, "/api/me/invitations/"+third.ID+"/accept", nil).Status)

		_, fourth := invite(owner, "eve@example.org", "viewer")
		var pending struct{ Invitations []invitationBody }
		owner.Do(t, http.MethodGet, base+"/invitations", nil).JSON(t, &pending)
		require.Len(t, pending.Invitations, 1)
		assert.Equal(t, fourth.ID, pending.Invitations[0].ID)
		assert.Equal(t, http.StatusNoContent, owner.Do(t, http.MethodDelete, base+"/invitations/"+fourth.ID, nil).Status)
		assert.Equal(t, http.StatusNotFound, owner.Do(t, http.MethodDelete, base+"/invitations/"+toGhost.ID+"x", nil).Status)
		assert.Equal(t, http.StatusNotFound, eve.Do(t, http.MethodPost, "/api/me/invitations/"+fourth.ID+"/accept", nil).Status)

		var audit struct{ Entries []struct{ Action string } }
		owner.Do(t, http.MethodGet, base+"/audit", nil).JSON(t, &audit)
		var actions []string
		for _, e := range audit.Entries {
			actions = append(actions, e.Action)
		}
		assert.Contains(t, actions, "invitation.create")
		assert.Contains(t, actions, "invitation.accept")
		assert.Contains(t, actions, "invitation.revoke")
	})
}
