"""``/api/v1/users`` (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from ketapain.capture.api.deps import CtxDep, PathStr
from ketapain.capture.schemas import UserCreate, UserPublic, UserUpdate
from ketapain.capture.services import users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
def list_users(ctx: CtxDep) -> list:
    return users.list_users(ctx)


@router.post("", response_model=UserPublic, status_code=201)
def create_user(body: UserCreate, ctx: CtxDep):
    u = users.create_user(ctx, body)
    ctx.session.commit()
    return u


@router.patch("/{username}", response_model=UserPublic)
def update_user(username: PathStr, body: UserUpdate, ctx: CtxDep):
    u = users.change_user(ctx, username, body)
    ctx.session.commit()
    return u
