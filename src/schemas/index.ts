// Every named schema, in dependency order (a schema's $refs are registered before it).
import { AgonesState, AgonesStatus } from './agones.js';
import { EngineStateName, Histogram, Problem } from './common.js';
import { EngineStatus, Health, NoOptions, Ready, StartConfig, StopOptions, StopReport, Transition } from './engine.js';
import { EventsAccepted, EventsBody, GameEvent } from './events.js';
import { Job, JobAccepted, JobCancelled, LockBenchmarkRequest, LockBenchmarkRow } from './jobs.js';
import { MonitorStatus } from './monitor.js';
import { PipeMessage, PipeReply } from './ipc.js';
import { Player, PlayerList } from './players.js';
import {
  ControllerStats,
  EngineSnapshot,
  EventStats,
  EventTypeStats,
  IocpStats,
  MonitorStats,
  SessionStats,
  StorageStats,
  StorageStatus,
  JournalStats,
  PipeStats,
  PoolStats,
  TaskStats,
  WorkerInfo,
} from './stats.js';
import { Broadcasted, BroadcastBody, DrainOptions, DrainReport, KickBody, SessionInfo, SessionList } from './sessions.js';
import { Task, TaskCancelled, TaskCreated, TaskList, TaskSpec } from './tasks.js';
import { IssuedTicket, TicketRequest, TicketsBody, TicketsIssued } from './tickets.js';

export const ALL_SCHEMAS = [
  EngineStateName,
  Problem,
  Histogram,
  Health,
  Ready,
  StartConfig,
  NoOptions,
  StopOptions,
  Transition,
  StopReport,
  AgonesState,
  AgonesStatus,
  EngineStatus,
  GameEvent,
  EventsBody,
  EventsAccepted,
  TaskSpec,
  TaskCreated,
  Task,
  TaskList,
  TaskCancelled,
  Player,
  PlayerList,
  TicketRequest,
  TicketsBody,
  IssuedTicket,
  TicketsIssued,
  SessionInfo,
  SessionList,
  KickBody,
  BroadcastBody,
  Broadcasted,
  DrainOptions,
  DrainReport,
  MonitorStatus,
  PipeMessage,
  PipeReply,
  LockBenchmarkRequest,
  LockBenchmarkRow,
  Job,
  JobAccepted,
  JobCancelled,
  WorkerInfo,
  EventTypeStats,
  ControllerStats,
  EventStats,
  PoolStats,
  TaskStats,
  StorageStats,
  IocpStats,
  PipeStats,
  MonitorStats,
  SessionStats,
  JournalStats,
  EngineSnapshot,
  StorageStatus,
] as const;
